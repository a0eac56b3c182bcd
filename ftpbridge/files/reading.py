"""Reading an updated file as fulfillers really send it.

UTF-8 with or without byte-order mark, else cp1252 (Excel on Windows), UTF-16 with a
byte-order mark (Excel's "Unicode text"); delimiter ``,``, ``;``, ``|`` or tab detected from
the header, or named by Excel's ``sep=;`` first line; headers matched by name; every cell
read as text; the file streamed in chunks so memory does not grow with it. A workbook
(.xlsx, .xlsm, .xlsb, .xls, .ods, recognised by content) is read by
:mod:`ftpbridge.files.workbooks` into the same CSV text of its required columns, and from
there on takes the same path.

Bounded before any cell is read as text (issue 12): the first pass over the bytes
(``inspect_bytes``) measures every row as a CSV reader will see it (line breaks inside
quotes belong to the row) and refuses a file holding a row, or a header, longer than
``MAX_RECORD_BYTES``; the header may name at most ``MAX_COLUMNS`` columns. A single cell
of 150 MB, or a header of ten million commas, is refused with memory flat, where pandas
took 5.5 GB and 2.5 GB to tokenize them.

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

from ftpbridge.durable import sha256_of
from ftpbridge.errors import InputFileError
from ftpbridge.files import workbooks
from ftpbridge.files.layouts import REQUIRED_ON_IMPORT, Layout, match_headers
from ftpbridge.textarrays import strip

SAMPLE_BYTES = 1 << 16
BLOCK = 1 << 20
MAX_RECORD_BYTES = 2 * 1024 * 1024  # a row or the header, quoted line breaks included
MAX_COLUMNS = 10_000
# Excel's first line naming the delimiter: sep=; (it shows the file with that delimiter
# and does not show the line).
_SEP_LINE = re.compile(r'"?sep=(.)"?', re.IGNORECASE)
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
    skip: int = 0  # lines before the header (1: Excel's sep= line)


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
    records = _Records(path.name)
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
                    records = _Records(
                        path.name, "<u2" if block.startswith(codecs.BOM_UTF16_LE) else ">u2"
                    )
            digest.update(block)
            records.feed(block)
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


class _Records:
    """Rows as a CSV reader will see them, measured on the bytes (never decoded): quotes
    toggle a row's inside (a doubled quote twice), line breaks outside quotes end a row
    (LF; a lone CR in a file without any LF, as Excel for Mac writes). InputFileError
    names the first row longer than MAX_RECORD_BYTES, as soon as it is seen."""

    def __init__(self, name: str, unit: str = "u1") -> None:
        self.name = name
        self.dtype = np.dtype(unit)
        self.inside = 0  # 1 while within quotes at the end of what was fed
        self.open = 0  # units of the row not ended yet
        self.rows = 0  # rows ended so far
        self.lf_seen = False
        self.held_cr = False  # the last unit fed was a CR outside quotes, no LF seen yet

    def feed(self, block: bytes) -> None:
        units = np.frombuffer(block, dtype=self.dtype, count=len(block) // self.dtype.itemsize)
        if units.size == 0:
            return
        lf = np.flatnonzero(units == 0x0A)
        if self.held_cr:  # a lone CR ended a row, unless this LF makes it a CRLF
            self.held_cr = False
            if units[0] != 0x0A:
                self.rows += 1
                self.open = 0
        self.lf_seen = self.lf_seen or lf.size > 0
        breaks = lf if self.lf_seen else np.flatnonzero(units == 0x0D)
        # Positions, not masks, from here on: a few thousand line breaks and quotes a
        # MiB instead of a running count over every byte (measured on 168 MB, a million
        # rows of 8 quotes: the pass takes 0.6 s instead of 0.4 s without this scan, and
        # 2.8 s with a running count; docs/benchmarks.md).
        quotes = np.flatnonzero(units == 0x22)
        if self.inside or quotes.size:
            before = np.searchsorted(quotes, breaks)  # quotes ahead of each line break
            breaks = breaks[((before + self.inside) & 1) == 0]
            self.inside = (self.inside + int(quotes.size)) & 1
        if not self.lf_seen and breaks.size and breaks[-1] == units.size - 1:
            self.held_cr, breaks = True, breaks[:-1]  # known at the next block
        if breaks.size == 0:
            self.open += units.size
            self._check(self.open, self.rows)
            return
        self._check(self.open + int(breaks[0]), self.rows)
        if breaks.size > 1:
            lengths = np.diff(breaks) - 1
            at = int(np.argmax(lengths))
            self._check(int(lengths[at]), self.rows + at + 1)
        self.rows += int(breaks.size)
        self.open = units.size - int(breaks[-1]) - 1
        self._check(self.open, self.rows)

    def _check(self, units: int, row_index: int) -> None:
        if units * self.dtype.itemsize <= MAX_RECORD_BYTES:
            return
        what = "its header" if row_index == 0 else f"row {row_index + 1}"
        raise InputFileError(
            f"{self.name}: {what} is longer than {MAX_RECORD_BYTES // 1_000_000} MB"
            f" ({units * self.dtype.itemsize:,} bytes or more); a row of an updated file is"
            " a few hundred bytes, so this is not one (a cell pasted in by mistake, or a"
            " quote never closed)",
            hint="open the file in a spreadsheet, fix that row, and send it again",
        )


def _first_record(path: Path, encoding: str) -> str:
    """The start of the file as text (what the header and delimiter are read from)."""
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        text = handle.read(SAMPLE_BYTES)
    return text


def _header_line(path: Path, encoding: str, skip: int) -> str:
    """The whole header line (after ``skip`` lines; at most MAX_RECORD_BYTES, which
    inspect_bytes made sure of)."""
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        for _ in range(skip):
            handle.readline(MAX_RECORD_BYTES + 1)
        return handle.readline(MAX_RECORD_BYTES + 1).lstrip("\ufeff").rstrip("\r\n")


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
    delimiter, headers, skip = read_header(path, facts, expected=REQUIRED_ON_IMPORT)
    positions = match_headers(path.name, headers, layout.accepted_headers())
    return CsvShape(facts.encoding, delimiter, tuple(headers), positions, skip=skip)


def read_header(
    path: Path, facts: FileFacts, *, expected: Sequence[str]
) -> tuple[str, list[str], int]:
    """The file's delimiter, header cells and the lines before the header (1: Excel's
    ``sep=`` line). Raises InputFileError for a workbook (read as CSV only: an inventory
    file, a catalogue), text in no encoding we read, an empty header line or a header of
    more than ``MAX_COLUMNS`` columns (``expected``: the columns the hint names)."""
    if facts.workbook:
        raise InputFileError(
            f"{path.name} is a workbook ({facts.workbook}), not a CSV file",
            hint="save the sheet as 'CSV UTF-8' and send that; its first line must name the"
            " columns: " + ", ".join(expected),
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
    first_lines = re.split(r"\r\n|\r|\n", sample.lstrip("\ufeff"), maxsplit=2)
    named = _SEP_LINE.fullmatch(first_lines[0].strip())
    skip = 1 if named else 0
    header_line = _header_line(path, facts.encoding, skip)
    if not header_line.strip():
        raise InputFileError(
            f"{path.name} has no header row on its {'second' if skip else 'first'} line",
            hint="the first line must name the columns: " + ", ".join(expected),
        )
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: counts[d])
    if named is not None:
        delimiter = named.group(1)
    elif counts[delimiter] == 0:
        delimiter = ","
    if header_line.count(delimiter) >= MAX_COLUMNS:
        raise InputFileError(
            f"{path.name}: its header names {header_line.count(delimiter) + 1:,} columns, more"
            f" than the {MAX_COLUMNS:,} an updated file may have",
            hint="send the exported file's columns only (extra columns may stay, a few)",
        )
    try:
        headers = next(csv.reader(io.StringIO(header_line), delimiter=delimiter))
    except (csv.Error, StopIteration):
        headers = header_line.split(delimiter)
    return delimiter, headers, skip


def map_headers(path: Path, headers: Sequence[str], accepted: Mapping[str, str]) -> dict[str, int]:
    """field → column position, from ``accepted`` (normalised header → field), no column
    required (the caller says which it needs). Raises InputFileError when two columns mean
    the same field."""
    return match_headers(path.name, headers, accepted, required=())


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
            skiprows=shape.skip,
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
