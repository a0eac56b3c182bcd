"""Reading an updated file as fulfillers really send it.

UTF-8 with or without byte-order mark, else cp1252 (Excel on Windows), UTF-16 with a
byte-order mark (Excel's "Unicode text"); delimiter ``,``, ``;``, ``|`` or tab detected from
the header; headers matched by name; every cell read as text; the file streamed in
chunks so memory does not grow with it.

Whole-file problems raise :class:`InputFileError` with a message that names the file and
says what to do; nothing of such a file is applied.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ftpbridge.errors import InputFileError
from ftpbridge.files.layouts import REQUIRED_ON_IMPORT, Layout, normalise_header
from ftpbridge.textarrays import strip

SAMPLE_BYTES = 1 << 16
BLOCK = 1 << 20
DELIMITERS = (",", ";", "\t", "|")
MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an .xlsx workbook is one): save it as CSV in the spreadsheet",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls): save it as CSV in the spreadsheet",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
}


@dataclass(frozen=True)
class FileFacts:
    """What a pass over the bytes found: content hash, size, text encoding."""

    sha256: str
    size: int
    encoding: str


@dataclass(frozen=True)
class CsvShape:
    encoding: str
    delimiter: str
    headers: tuple[str, ...]
    positions: dict[str, int]  # field → column position in the file


def inspect_bytes(path: Path) -> FileFacts:
    """Hash the file and find its encoding in one pass; reject binary files.

    Raises InputFileError for an empty file, a binary file (NUL bytes, a ZIP/xls/PDF
    signature) or text in no encoding we can read.
    """
    digest = hashlib.sha256()
    size = 0
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = True
    head = b""
    encoding = ""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputFileError(f"cannot read {path.name}: {exc.strerror}") from None
    with handle:
        while block := handle.read(BLOCK):
            if size == 0:
                head = block[:4]
                for magic, what in MAGIC.items():
                    if block.startswith(magic):
                        raise InputFileError(
                            f"{path.name} is not a CSV file: it is {what}",
                            hint="export the sheet as 'CSV (comma delimited)' and send that",
                        )
                if block.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    encoding = "utf-16"
            digest.update(block)
            size += len(block)
            if encoding == "utf-16":
                continue
            if b"\x00" in block:
                raise InputFileError(
                    f"{path.name} contains NUL bytes: it is binary data, not a CSV file",
                    hint="export the sheet as 'CSV (comma delimited)' and send that",
                )
            if is_utf8:
                try:
                    utf8.decode(block)
                except UnicodeDecodeError:
                    is_utf8 = False
        if is_utf8 and encoding != "utf-16":
            try:
                utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                is_utf8 = False
    if size == 0:
        raise InputFileError(
            f"{path.name} is empty", hint="send the file with its header row and rows"
        )
    if not encoding:
        if is_utf8:
            encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        else:
            encoding = "cp1252"
    return FileFacts(digest.hexdigest(), size, encoding)


def _first_record(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        text = handle.read(SAMPLE_BYTES)
    return text


def detect_shape(path: Path, facts: FileFacts, layout: Layout) -> CsvShape:
    """Find the delimiter and map the header to fields. Raises InputFileError when a
    required column is missing or two columns mean the same field."""
    delimiter, headers = read_header(path, facts, expected=REQUIRED_ON_IMPORT)
    positions = map_headers(path, headers, layout.accepted_headers())
    missing = [field for field in REQUIRED_ON_IMPORT if field not in positions]
    if missing:
        found = ", ".join(repr(h.strip()) for h in headers[:30]) or "none"
        raise InputFileError(
            f"{path.name} lacks the required column(s) {', '.join(missing)}"
            f" (columns found: {found})",
            hint="keep the header row of the exported file; the fulfiller columns may be empty"
            " but must be there",
        )
    return CsvShape(facts.encoding, delimiter, tuple(headers), positions)


def read_header(path: Path, facts: FileFacts, *, expected: Sequence[str]) -> tuple[str, list[str]]:
    """The file's delimiter and header cells. Raises InputFileError when the text is in no
    encoding we read or the first line is empty (``expected``: the columns the hint names)."""
    sample = _first_record(path, facts.encoding)
    if facts.encoding == "cp1252":
        try:
            path.read_bytes()[:SAMPLE_BYTES].decode("cp1252")
        except UnicodeDecodeError:
            raise InputFileError(
                f"{path.name} is in an unknown text encoding (not UTF-8, not Windows-1252)",
                hint="save it as 'CSV UTF-8' in the spreadsheet",
            ) from None
    # Lines may end in CRLF, LF or a lone CR (Excel for Mac's "CSV (Macintosh)").
    header_line = re.split(r"\r\n|\r|\n", sample.lstrip("\ufeff"), maxsplit=1)[0]
    if not header_line.strip():
        raise InputFileError(
            f"{path.name} has no header row on its first line",
            hint="the first line must name the columns: " + ", ".join(expected),
        )
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        delimiter = ","
    try:
        headers = next(csv.reader(io.StringIO(header_line), delimiter=delimiter))
    except (csv.Error, StopIteration):
        headers = header_line.split(delimiter)
    return delimiter, headers


def map_headers(path: Path, headers: Sequence[str], accepted: Mapping[str, str]) -> dict[str, int]:
    """field → column position, from ``accepted`` (normalised header → field). Raises
    InputFileError when two columns mean the same field."""
    positions: dict[str, int] = {}
    clashes: list[str] = []
    for position, header in enumerate(headers):
        field = accepted.get(normalise_header(header))
        if field is None:
            continue
        if field in positions:
            clashes.append(
                f"columns {headers[positions[field]]!r} and {header!r} both mean {field}"
            )
            continue
        positions[field] = position
    if clashes:
        raise InputFileError(
            f"{path.name}: " + "; ".join(clashes),
            hint="remove or rename one of the two columns",
        )
    return positions


def iter_chunks(
    path: Path,
    shape: CsvShape,
    *,
    chunk_rows: int,
    fields: tuple[str, ...] = REQUIRED_ON_IMPORT,
) -> Iterator[pd.DataFrame]:
    """The required columns of the file, ``chunk_rows`` records at a time, all text.

    Each frame has columns ``fields`` (by default REQUIRED_ON_IMPORT) plus ``row`` (the
    spreadsheet row number: the header is row 1). Records empty in every one of ``fields``
    (blank lines, ``,,,,``) are dropped.
    Raises InputFileError for a malformed file (unbalanced quotes, a row with more fields
    than the header), naming the row.
    """
    wanted = fields
    fields = tuple(sorted(wanted, key=lambda field: shape.positions[field]))
    usecols = [shape.positions[field] for field in fields]
    reader = None
    start = 2
    try:
        # Inside the try: pandas tokenizes the first rows while opening the reader, so a
        # malformed small file fails here already.
        reader = pd.read_csv(
            path,
            sep=shape.delimiter,
            encoding=shape.encoding,
            encoding_errors="strict",
            header=0,
            # Rows with more fields than the header (a trailing delimiter on every data line
            # is common) must not shift the columns: without this pandas takes the extra
            # leading fields as the index and misaligns every column.
            index_col=False,
            usecols=usecols,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            chunksize=chunk_rows,
            engine="c",
            quotechar='"',
            doublequote=True,
            skipinitialspace=False,
            low_memory=True,
        )
        for chunk in reader:
            chunk.columns = fields
            rows = np.arange(start, start + len(chunk), dtype=np.int64)
            start += len(chunk)
            # Stripped a column at a time in C; only padded cells are touched (see textarrays).
            columns = {}
            blank = np.ones(len(chunk), dtype=bool)
            for field in wanted:
                values = chunk[field].to_numpy(dtype=object)
                missing = pd.isna(values)
                if missing.any():
                    values[missing] = ""
                values = strip(values)
                blank &= values == ""
                columns[field] = values
            keep = ~blank
            if not keep.all():
                columns = {field: values[keep] for field, values in columns.items()}
                rows = rows[keep]
            frame = pd.DataFrame(
                {field: pd.Series(values, dtype="str") for field, values in columns.items()}
            )
            frame["row"] = rows
            yield frame
    except pd.errors.ParserError as exc:
        raise InputFileError(
            f"{path.name} is not a well-formed CSV file: {_parser_message(exc)}",
            hint="check that quotes are balanced and no row has more columns than the header",
        ) from None
    except UnicodeDecodeError:
        raise InputFileError(
            f"{path.name} mixes text encodings and cannot be read",
            hint="save it again as 'CSV UTF-8' in the spreadsheet",
        ) from None
    finally:
        if reader is not None:
            reader.close()


def _parser_message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    text = text.replace("Error tokenizing data. C error: ", "")
    # pandas counts records from 0 with the header as record 0 (blank lines included): one
    # less than the row number a spreadsheet shows, which is what people look for.
    return re.sub(r"\bat row (\d+)", lambda match: f"at row {int(match.group(1)) + 1}", text)
