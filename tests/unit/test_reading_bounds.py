"""The bound on a row's length in the first pass over an updated file's bytes (issue 12):
rows as a CSV reader sees them, however the bytes are cut into blocks."""

from __future__ import annotations

import codecs

import pytest

from ftpbridge.errors import InputFileError
from ftpbridge.files import reading
from ftpbridge.files.reading import _Records


def feed(data: bytes, block: int, unit: str = "u1") -> _Records:
    records = _Records("f.csv", unit)
    for start in range(0, len(data), block):
        records.feed(data[start : start + block])
    return records


@pytest.fixture(autouse=True)
def small_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "MAX_RECORD_BYTES", 100)


@pytest.mark.parametrize("block", [1, 3, 7, 64, 4096])
def test_rows_within_the_bound_pass_whatever_the_blocks(block: int) -> None:
    """Rows of up to 100 bytes (their CR included), quoted line breaks and doubled quotes
    inside: counted as rows by line breaks outside quotes, whatever the block size."""
    rows = [b"h1,h2", b'1,"a ""quoted"" cell\nwith a line break"', b"x" * 99, b"2,3"]
    records = feed(b"\r\n".join(rows) + b"\r\n", block)
    assert records.rows == 4
    assert records.inside == 0


@pytest.mark.parametrize("block", [1, 5, 64, 4096])
def test_a_row_over_the_bound_is_named(block: int) -> None:
    """A row of 101 bytes (its line breaks inside quotes, so every line is short) is
    refused naming its row as a spreadsheet counts (header: row 1)."""
    long = b'1,"' + b"\n".join([b"abcdefghi"] * 10) + b'"'  # 101 bytes with its quotes
    assert len(long) > 100
    data = b"h1,h2\n2,3\n" + long + b"\n4,5\n"
    with pytest.raises(InputFileError, match="row 3 is longer"):
        feed(data, block)


def test_a_header_over_the_bound_is_named() -> None:
    with pytest.raises(InputFileError, match="its header is longer"):
        feed(b"," * 200 + b"\n1\n", 4096)


def test_lone_carriage_returns_end_rows_in_a_file_without_line_feeds() -> None:
    """Excel for Mac's CSV: rows end in a lone CR."""
    records = feed(b"h1,h2\r1,2\r" + b"y" * 90 + b"\r", 16)
    assert records.rows + records.held_cr == 3  # the last CR: a row ended, or a CRLF begun
    with pytest.raises(InputFileError, match="row 2 is longer"):
        feed(b"h1,h2\r" + b"y" * 150 + b"\r", 16)


def test_utf16_is_measured_in_its_own_units() -> None:
    """UTF-16 (Excel's Unicode text): quotes and line breaks are two-byte units; a byte
    0x22 inside another character is not a quote."""
    text = "h1,h2\r\n1,\u2200\u2222\r\n" + "z" * 49 + "\r\n"
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    records = feed(data, 6, "<u2")
    assert (records.rows, records.inside) == (3, 0)
    with pytest.raises(InputFileError, match="row 2 is longer"):
        feed(codecs.BOM_UTF16_LE + ("h\r\n" + "z" * 60 + "\r\n").encode("utf-16-le"), 8, "<u2")
