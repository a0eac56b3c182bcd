"""Reading an updated file as fulfillers really send it.

UTF-8 with or without byte-order mark, else cp1252 (Excel on Windows), UTF-16 with a
byte-order mark (Excel's "Unicode text"); delimiter ``,``, ``;``, ``|`` or tab detected from
the header; headers matched by name; every cell read as text; the file streamed in
chunks so memory does not grow with it. A workbook (.xlsx, .xlsm, .xlsb, .xls, .ods,
recognised by content) is read by :mod:`ftpbridge.files.workbooks` into the same CSV text
of its required columns, and from there on takes the same path.

Whole-file problems raise :class:`InputFileError` with a message that names the file and
says what to do; nothing of such a file is applied.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ftpbridge.durable import sha256_of
from ftpbridge.errors import InputFileError
from ftpbridge.files import workbooks
from ftpbridge.files.layouts import REQUIRED_ON_IMPORT, Layout, match_headers
from ftpbridge.textarrays import strip

SAMPLE_BYTES = 1 << 16
BLOCK = 1 << 20
DELIMITERS = (",", ";", "\t", "|")
MAGIC = {
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
}


@dataclass(frozen=True)
class FileFacts:
    """What a pass over the bytes found: content hash, size, text encoding; for a
    workbook its kind (``workbooks.kind_of``) and no encoding."""

    sha256: str
    size: int
    encoding: str
    workbook: str = ""


@dataclass(frozen=True)
class CsvShape:
    encoding: str
    delimiter: str
    headers: tuple[str, ...]
    positions: dict[str, int]  # field → column position in the file
    # A workbook's sheet: its required columns as CSV text, read instead of the file; the
    # sheet row of its first record; a line for the report saying which sheet was read.
    text: bytes | None = None
    first_row: int = 2
    note: str = ""


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
                if workbooks.is_workbook(block):
                    kind = workbooks.kind_of(path)
                    return FileFacts(*sha256_of(path), encoding="", workbook=kind)
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
    required column is missing or two columns mean the same field. A workbook's sheet is
    read here (:func:`workbooks.read_sheet`), into CSV text of the required columns."""
    if facts.workbook:
        sheet = workbooks.read_sheet(path, facts.workbook, layout)
        fields = dict(zip(REQUIRED_ON_IMPORT, range(len(REQUIRED_ON_IMPORT)), strict=True))
        return CsvShape(
            "utf-8", ",", REQUIRED_ON_IMPORT, fields, sheet.text, sheet.first_row, sheet.note
        )
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
            hint="the first line must name the columns: " + ", ".join(REQUIRED_ON_IMPORT),
        )
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        delimiter = ","
    try:
        headers = next(csv.reader(io.StringIO(header_line), delimiter=delimiter))
    except (csv.Error, StopIteration):
        headers = header_line.split(delimiter)
    positions = match_headers(path.name, headers, layout.accepted_headers())
    return CsvShape(facts.encoding, delimiter, tuple(headers), positions)


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
    start = shape.first_row
    source: Path | io.BytesIO = path if shape.text is None else io.BytesIO(shape.text)
    try:
        # Inside the try: pandas tokenizes the first rows while opening the reader, so a
        # malformed small file fails here already.
        reader = pd.read_csv(
            source,
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
