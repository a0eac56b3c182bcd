"""Workbooks as updated files: .xlsx, .xlsm, .xlsb, .xls and .ods, recognised by content.

A file starting with a ZIP signature is a workbook when it holds ``xl/workbook.xml``
(.xlsx, .xlsm with ``xl/vbaProject.bin``), ``xl/workbook.bin`` (.xlsb) or an OpenDocument
spreadsheet ``mimetype`` (.ods); one starting with the OLE2 signature is an .xls, or an
encrypted (password-protected) Office file, which the reader tells apart. Whatever the
file is named: a CSV named .xlsx is read as CSV, a workbook named .csv as a workbook.

Nothing trusts the archive. Before any reader touches it (:func:`kind_of`, then
:func:`read_sheet`):

- the number of entries and the size of the central directory are read from the end
  record and bounded (``Limits.entries``): a ZIP listing millions of entries would cost
  gigabytes to list;
- the uncompressed sizes the archive declares are added up and bounded
  (``Limits.uncompressed``); then every entry is inflated once, in blocks, counting what
  it really gives and stopping at the bound: a zip bomb (kilobytes expanding to
  gigabytes, or lying about its sizes) is refused before memory grows;
- XML entries holding a document type declaration (``<!DOCTYPE``, ``<!ENTITY``) are
  refused: workbooks never need one, and entity definitions are how "billion laughs"
  expands a few hundred bytes into gigabytes. No XML is parsed here (the scan looks for
  the bytes), so no XML parser of ours can be attacked;
- encrypted entries and compression methods other than stored and deflate are refused;
- macros (.xlsm's ``vbaProject.bin``) are never run: the reader reads cell values only.

Then one sheet is read by python-calamine in a child process under limits of memory,
CPU time, output size and wall time (see :mod:`ftpbridge.files.sheets` for why), and comes
back as CSV text of the required columns: everything after that is the CSV path.
python-calamine (Rust) reads 100,000 rows in 1.2 s where openpyxl's read-only mode takes
16 s (docs/benchmarks.md); openpyxl would stream in flat memory, calamine holds the sheet
(about 190 MB for 100,000 rows of 18 columns), which is what the child's limits bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ftpbridge.errors import InputFileError
from ftpbridge.files.layouts import Layout

ZIP_SIGNATURE = b"PK\x03\x04"
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END_RECORD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END = b"PK\x06\x06"
_ODS_TYPES = (
    b"application/vnd.oasis.opendocument.spreadsheet",
    b"application/vnd.oasis.opendocument.spreadsheet-template",
)
_DECLARATIONS = tuple(
    text.encode(encoding)
    for text in ("<!DOCTYPE", "<!ENTITY")
    for encoding in ("utf-8", "utf-16-le", "utf-16-be")
)
_CARRY = max(map(len, _DECLARATIONS))
_BLOCK = 1 << 20
_RESAVE = "open it in the spreadsheet and save it again (or save the sheet as CSV)"


@dataclass(frozen=True)
class Limits:
    """The bounds a workbook is read within (the defaults are :data:`LIMITS`)."""

    entries: int = 10_000
    """Entries of a ZIP-based workbook (an .xlsx has about ten, one per sheet more)."""
    uncompressed: int = 1_000_000_000
    """Bytes all entries may expand to (a 100,000-row .xlsx: about 110 MB)."""
    columns: int = 1_024
    """Columns the sheet read may span (Excel allows 16,384; an updated file needs 6)."""
    memory: int = 2_000_000_000
    """Address space of the child that reads the sheet (100,000 rows: about 230 MB RSS)."""
    text: int = 100_000_000
    """Bytes of text the sheet's required columns may hold (100,000 rows: about 6 MB)."""
    seconds: int = 300
    """Wall time to read the sheet (100,000 rows: about 3 s)."""


LIMITS = Limits()


@dataclass(frozen=True)
class Sheet:
    """The sheet read: its required columns as CSV text (UTF-8, a header of field names,
    then a record per row of the sheet), the sheet row of the first record, and a line
    for the report naming the sheet when the workbook has several."""

    text: bytes
    first_row: int
    note: str


def is_workbook(head: bytes) -> bool:
    """Whether a file starting with ``head`` is to be read as a workbook."""
    return head.startswith((ZIP_SIGNATURE, OLE2_SIGNATURE))


def kind_of(path: Path, limits: Limits = LIMITS) -> str:
    """The kind of workbook ``path`` holds: xlsx, xlsm, xlsb, ods or xls.

    Bounds the archive's entry count and declared sizes first. Raises
    :class:`InputFileError` for a ZIP that is no workbook, a damaged or encrypted one, or
    one over the limits.
    """
    name = path.name
    with path.open("rb") as handle:
        if handle.read(len(OLE2_SIGNATURE)) == OLE2_SIGNATURE:
            return "xls"  # or an encrypted Office file: the reader says which
        _bound_directory(handle, name, limits)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            # A real mimetype entry is 46 bytes; zipfile reads no more than an entry
            # declares, and a larger one is no OpenDocument file.
            sizes = {info.filename: info.file_size for info in infos}
            small = sizes.get("mimetype", 0) <= 100
            mimetype = archive.read("mimetype") if "mimetype" in names and small else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise _damaged(name, exc) from None
    if "xl/workbook.xml" in names:
        kind = "xlsm" if "xl/vbaProject.bin" in names else "xlsx"
    elif "xl/workbook.bin" in names:
        kind = "xlsb"
    elif mimetype.strip() in _ODS_TYPES and "content.xml" in names:
        kind = "ods"
    else:
        raise InputFileError(
            f"{name} is a ZIP archive, not a workbook or a CSV file",
            hint="send the updated file itself (CSV, .xlsx or .ods), not an archive",
        )
    declared = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise _protected(name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InputFileError(
                f"{name} is compressed in a way spreadsheets do not use"
                f" (method {info.compress_type})",
                hint=_RESAVE,
            )
        declared += info.file_size
    if declared > limits.uncompressed:
        raise _too_large(name, limits)
    if kind == "ods" and _ods_encrypted(path):
        raise _protected(name)
    return kind


def read_sheet(path: Path, kind: str, layout: Layout, limits: Limits = LIMITS) -> Sheet:
    """Read the sheet to import from the workbook ``path`` (of ``kind``, from
    :func:`kind_of`): the first sheet whose header row has the required columns.

    Inflates every entry once first (real sizes, document type declarations). Raises
    :class:`InputFileError` for a workbook refused as a whole, with the reason.
    """
    name = path.name
    if kind != "xls":
        _verify_entries(path, name, limits)
    request = {
        "path": str(path),
        "name": name,
        "accepted": layout.accepted_headers(),
        "max_columns": limits.columns,
        "max_text": limits.text,
        "memory": limits.memory,
        "cpu_seconds": limits.seconds,
    }
    answer, text = _run_reader(request, limits)
    if not answer.get("ok"):
        raise _refusal(name, answer, limits)
    note = ""
    if answer["sheets"] > 1:
        note = (
            f"read from the sheet {answer['sheet']!r}, the first of the workbook's"
            f" {answer['sheets']} sheets whose header row has the required columns"
        )
    return Sheet(text, answer["header_row"] + 1, note)


# ----------------------------------------------------------------------------- the archive


def _bound_directory(handle: IO[bytes], name: str, limits: Limits) -> None:
    """Refuse a ZIP whose end record lists more entries (or a larger central directory)
    than the limits allow, before zipfile reads that directory into memory."""
    handle.seek(0, 2)
    size = handle.tell()
    tail_size = min(size, 22 + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(_END_RECORD)
    if at < 0 or len(tail) - at < 22:
        raise _damaged(name, "no end of the ZIP directory")
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    directory = int.from_bytes(tail[at + 12 : at + 16], "little")
    if entries == 0xFFFF or directory == 0xFFFFFFFF:  # ZIP64: the real figures are elsewhere
        locator = tail[at - 20 : at] if at >= 20 else b""
        if not locator.startswith(_ZIP64_LOCATOR):
            raise _damaged(name, "a ZIP64 directory without its locator")
        handle.seek(int.from_bytes(locator[8:16], "little"))
        record = handle.read(56)
        if not record.startswith(_ZIP64_END):
            raise _damaged(name, "a ZIP64 directory without its end record")
        entries = int.from_bytes(record[32:40], "little")
        directory = int.from_bytes(record[40:48], "little")
    if entries > limits.entries or directory > limits.entries * 1024:
        raise InputFileError(
            f"{name} is an archive of {entries:,} entries, more than the"
            f" {limits.entries:,} a workbook may hold here; it was not read",
            hint="save the sheet as CSV and send that",
        )


def _ods_encrypted(path: Path) -> bool:
    """Whether an .ods is saved with a password (its manifest describes the encryption)."""
    with zipfile.ZipFile(path) as archive:
        try:
            info = archive.getinfo("META-INF/manifest.xml")
        except KeyError:
            return False
        if info.file_size > 1_000_000:
            return True  # a manifest is a few kB; do not read a giant one
        return b"encryption-data" in archive.read(info)


def _verify_entries(path: Path, name: str, limits: Limits) -> None:
    """Inflate every entry once, in blocks: refuse an archive that expands past the limit
    or past what it declares, and XML holding a document type declaration."""
    total = 0
    try:
        with zipfile.ZipFile(path) as archive, path.open("rb") as raw:
            for info in archive.infolist():
                produced = 0
                scan = info.filename.endswith((".xml", ".rels"))
                carried = b""
                for data in _inflated(raw, info):
                    produced += len(data)
                    total += len(data)
                    if produced > info.file_size or total > limits.uncompressed:
                        raise _too_large(name, limits)
                    if scan:
                        window = carried + data
                        if any(declaration in window for declaration in _DECLARATIONS):
                            raise InputFileError(
                                f"{name} holds an XML document type declaration"
                                f" ({info.filename}): workbooks never need one, and it is"
                                " how an entity-expansion attack (billion laughs) works;"
                                " it was not read",
                                hint=_RESAVE,
                            )
                        carried = window[-_CARRY:]
                if produced != info.file_size:
                    raise _damaged(name, f"{info.filename} is shorter than it says")
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise _damaged(name, exc) from None


def _inflated(raw: IO[bytes], info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The entry's bytes, inflated from its raw data a block at a time (the stream is
    followed to its end, whatever size the archive declares)."""
    raw.seek(info.header_offset)
    local = raw.read(30)
    if len(local) < 30 or not local.startswith(ZIP_SIGNATURE):
        raise zipfile.BadZipFile(f"no local header for {info.filename}")
    skip = int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
    raw.seek(info.header_offset + 30 + skip)
    remaining = info.compress_size
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    while remaining > 0:
        block = raw.read(min(_BLOCK, remaining))
        if not block:
            raise EOFError(f"{info.filename} is cut short")
        remaining -= len(block)
        if inflater is None:
            yield block
            continue
        yield inflater.decompress(block, _BLOCK)
        while inflater.unconsumed_tail:
            yield inflater.decompress(inflater.unconsumed_tail, _BLOCK)
        if inflater.eof:
            break


# ------------------------------------------------------------------------------ the reader


def _run_reader(request: dict[str, Any], limits: Limits) -> tuple[dict[str, Any], bytes]:
    """Run :mod:`ftpbridge.files.sheets` on ``request``: its answer and its CSV text."""
    with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [sys.executable, "-m", "ftpbridge.files.sheets"],
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=errors,
        )
        try:
            child.communicate(json.dumps(request).encode("utf-8"), timeout=limits.seconds)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            return {"ok": False, "timeout": True}, b""
        errors.seek(0, 2)
        errors.seek(max(0, errors.tell() - 65536))
        said = errors.read().decode("utf-8", "replace").strip().splitlines()
        answer: dict[str, Any] = {"ok": False, "signal": -child.returncode, "said": said[-3:]}
        if child.returncode >= 0 and said:
            try:
                answer = json.loads(said[-1])
            except ValueError:
                pass
        if not answer.get("ok"):
            return answer, b""
        output.seek(0)
        text = output.read(limits.text + 1_000_000)
    return answer, text


def _refusal(name: str, answer: dict[str, Any], limits: Limits) -> InputFileError:
    if "message" in answer:
        return InputFileError(answer["message"], hint=answer.get("hint") or None)
    if answer.get("timeout") or answer.get("signal") == 24:  # SIGXCPU: the CPU limit
        return InputFileError(
            f"{name} took longer than {limits.seconds} s to read as a workbook; it was not applied",
            hint="save the sheet as CSV and send that",
        )
    said = " ".join(answer.get("said", []))
    if answer.get("memory") or "memory allocation" in said or answer.get("signal") in (6, 9):
        return InputFileError(
            f"{name} is too large to read as a workbook (it needs more than"
            f" {_size(limits.memory)} of memory); it was not applied",
            hint="delete empty rows and columns far from the data, or save the sheet as CSV",
        )
    if answer.get("signal") == 25:  # SIGXFSZ: more text than Limits.text
        return InputFileError(
            f"{name}: the sheet's columns hold more than {_size(limits.text)} of text;"
            " it was not applied",
            hint="save the sheet as CSV and send that",
        )
    return _damaged(name, answer.get("error") or said or "the reader stopped")


def _size(count: int) -> str:
    return f"{count / 1e9:,.1f} GB" if count >= 1e9 else f"{count / 1e6:,.0f} MB"


def _damaged(name: str, why: object) -> InputFileError:
    reason = str(why).strip().splitlines()[-1][:200] if str(why).strip() else "unreadable"
    return InputFileError(
        f"{name} looks like a workbook (a ZIP archive or an Excel file) but cannot be read:"
        f" {reason}",
        hint=_RESAVE,
    )


def _protected(name: str) -> InputFileError:
    return InputFileError(
        f"{name} is protected by a password and cannot be read",
        hint="remove the password in the spreadsheet (or save the sheet as CSV) and send it again",
    )


def _too_large(name: str, limits: Limits) -> InputFileError:
    return InputFileError(
        f"{name} expands to more than {_size(limits.uncompressed)} when unpacked"
        " (a zip bomb, or far more than an updated file holds); it was not read",
        hint="save the sheet as CSV and send that",
    )
