"""Workbooks as updated files: recognised by content, bounded before any reader touches
them, one sheet read by python-calamine in a child process, cells as the warehouse sees
them (ftpbridge/files/workbooks.py and sheets.py)."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import msoffcrypto.format.ooxml
import pytest
import xlsxwriter

from ftpbridge.errors import InputFileError
from ftpbridge.files import workbooks
from ftpbridge.files.layouts import load_layout
from ftpbridge.files.sheets import cell_text
from ftpbridge.files.workbooks import Limits, kind_of, read_sheet

LAYOUT = load_layout("default")
HEADER = ["order_id", "item_id", "shipped", "shipped_date", "carrier", "tracking_number"]


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]], **options: object) -> Path:
    """A workbook written by XlsxWriter: each sheet's rows from A1, cells typed by value."""
    book = xlsxwriter.Workbook(str(path), options)
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for number, row in enumerate(rows):
            for column, value in enumerate(row):
                if isinstance(value, str):
                    sheet.write_string(number, column, value)
                elif value is not None:
                    sheet.write(number, column, value)
    book.close()
    return path


def text_of(sheet: workbooks.Sheet) -> list[str]:
    return sheet.text.decode("utf-8").splitlines()


# ------------------------------------------------------------------------- cells as text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("02134", "02134"),
        (True, "TRUE"),
        (False, "FALSE"),
        (1001.0, "1001"),
        (1001, "1001"),
        (-3.0, "-3"),
        (123456789012.0, "123456789012"),
        (999_999_999_999_999.0, "999999999999999"),  # 15 digits: exact
        (1e15, "1E+15"),  # 16 digits: Excel may have changed the last ones
        (9400111899223456789012.0, "9.40011E+21"),
        (3.5, "3.5"),
        (0.1 + 0.2, "0.3"),  # 15 significant digits, as Excel shows it
        (dt.date(2026, 11, 20), "2026-11-20"),
        (dt.datetime(2026, 11, 20), "2026-11-20"),
        (dt.datetime(2026, 11, 20, 13, 45), "2026-11-20 13:45:00"),
        (dt.time(13, 45), "13:45:00"),
    ],
)
def test_cells_become_text_the_way_the_warehouse_sees_them(value: object, text: str) -> None:
    """Dates as ISO dates, whole numbers that are exact as digits, numbers too large to be
    exact as Excel shows them (scientific: damage), TRUE/FALSE as words."""
    assert cell_text(value) == text


# --------------------------------------------------------------------------- recognition


def test_kinds_are_recognised_by_content_whatever_the_name(tmp_path: Path) -> None:
    """An .xlsx named .csv is an xlsx; a workbook with macros is an xlsm; an .ods and an
    .xls are told by their content."""
    xlsx = write_xlsx(tmp_path / "updated.csv", {"Sheet1": [HEADER]})
    assert kind_of(xlsx) == "xlsx"
    macro = tmp_path / "macro.xlsx"
    with zipfile.ZipFile(xlsx) as source, zipfile.ZipFile(macro, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 not run, never")
    assert kind_of(macro) == "xlsm"
    ods = tmp_path / "book.txt"
    with zipfile.ZipFile(ods, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    assert kind_of(ods) == "ods"
    xls = tmp_path / "old.csv"
    xls.write_bytes(workbooks.OLE2_SIGNATURE + b"\x00" * 504)
    assert kind_of(xls) == "xls"


def test_a_zip_that_is_no_workbook_is_refused(tmp_path: Path) -> None:
    """A ZIP holding a CSV (or a Word document) is refused as an archive, naming it."""
    path = tmp_path / "orders_updated.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("orders.csv", ",".join(HEADER))
    with pytest.raises(InputFileError, match=r"orders_updated\.zip is a ZIP archive, not a work"):
        kind_of(path)


def test_a_damaged_workbook_is_refused_with_a_reason(tmp_path: Path) -> None:
    """A workbook cut short is refused as a whole, saying it cannot be read and what to do."""
    whole = write_xlsx(tmp_path / "whole.xlsx", {"Sheet1": [HEADER]}).read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputFileError, match=r"cut\.xlsx looks like a workbook") as caught:
        kind_of(path)
    assert "save it again" in (caught.value.hint or "")


def test_an_archive_of_too_many_entries_is_refused_before_it_is_listed(tmp_path: Path) -> None:
    """The entry count comes from the end record: past the limit, nothing is listed."""
    path = tmp_path / "many.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        for number in range(30):
            archive.writestr(f"xl/media/image{number}.png", b"")
    assert kind_of(path, Limits(entries=31)) == "xlsx"
    with pytest.raises(InputFileError, match="archive of 31 entries, more than the 30"):
        kind_of(path, Limits(entries=30))


def test_declared_sizes_over_the_limit_are_refused_before_inflating(tmp_path: Path) -> None:
    """A workbook that says it unpacks to more than the limit is refused at once."""
    path = write_xlsx(tmp_path / "book.xlsx", {"Sheet1": [HEADER]})
    with zipfile.ZipFile(path) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    assert kind_of(path, Limits(uncompressed=declared)) == "xlsx"
    with pytest.raises(InputFileError, match="expands to more than"):
        kind_of(path, Limits(uncompressed=declared - 1))


def _lying_bomb(path: Path, real: int, declared: int) -> Path:
    """An .xlsx whose sheet inflates to ``real`` bytes but declares ``declared``."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("xl/workbook.xml", "<workbook/>")
        zipped.writestr("xl/worksheets/sheet1.xml", b" " * real)
    data = bytearray(archive.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zipped:
        info = zipped.getinfo("xl/worksheets/sheet1.xml")
    # The size in the central directory entry (offset 24) and in the local header (22).
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x05\x06"))
    while data[central + 46 : central + 46 + len(info.filename)] != info.filename.encode():
        central = data.rfind(b"PK\x01\x02", 0, central)
    data[central + 24 : central + 28] = declared.to_bytes(4, "little")
    data[info.header_offset + 22 : info.header_offset + 26] = declared.to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def test_an_entry_inflating_past_what_it_declares_is_refused(tmp_path: Path) -> None:
    """A zip bomb that lies about its sizes passes the declared check and is caught while
    inflating, block by block, before anything reads it."""
    path = _lying_bomb(tmp_path / "liar.xlsx", real=5_000_000, declared=1000)
    assert kind_of(path) == "xlsx"
    with pytest.raises(InputFileError, match="expands to more than"):
        read_sheet(path, "xlsx", LAYOUT)


def test_a_document_type_declaration_is_refused(tmp_path: Path) -> None:
    """Entity definitions (billion laughs) in any XML entry: refused, naming the entry."""
    path = write_xlsx(tmp_path / "book.xlsx", {"Sheet1": [HEADER]})
    laughs = tmp_path / "laughs.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(laughs, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/sharedStrings.xml" or info.filename.endswith("sheet1.xml"):
                data = data.replace(b"?>", b'?><!DOCTYPE lolz [<!ENTITY lol "lol">]>', 1)
            target.writestr(info, data)
    with pytest.raises(InputFileError, match="document type declaration") as caught:
        read_sheet(laughs, kind_of(laughs), LAYOUT)
    assert "billion laughs" in caught.value.message


def test_a_password_protected_workbook_is_refused(tmp_path: Path) -> None:
    """An .xlsx saved with a password (an encrypted OLE2 file) is refused as such."""
    plain = write_xlsx(tmp_path / "plain.xlsx", {"Sheet1": [HEADER]})
    locked = tmp_path / "locked.xlsx"
    with plain.open("rb") as source, locked.open("wb") as target:
        msoffcrypto.format.ooxml.OOXMLFile(source).encrypt("secret", target)
    with pytest.raises(InputFileError, match="protected by a password") as caught:
        read_sheet(locked, kind_of(locked), LAYOUT)
    assert "remove the password" in (caught.value.hint or "")


def test_an_encrypted_zip_entry_is_refused_as_password_protected(tmp_path: Path) -> None:
    """A ZIP entry flagged as encrypted: refused before reading."""
    path = write_xlsx(tmp_path / "book.xlsx", {"Sheet1": [HEADER]})
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1  # general purpose flag, bit 0: encrypted
    path.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match="protected by a password"):
        kind_of(path)


# ------------------------------------------------------------------------------ the sheet


def test_the_first_sheet_whose_header_matches_is_read_and_named(tmp_path: Path) -> None:
    """A notes sheet first, the orders second: the second is read, and the note says so."""
    path = write_xlsx(
        tmp_path / "book.xlsx",
        {"Notes": [["picked by", "Sam"]], "Orders": [HEADER, ["1", "1001", "TRUE"]]},
    )
    sheet = read_sheet(path, kind_of(path), LAYOUT)
    assert text_of(sheet) == [",".join(HEADER), "1,1001,TRUE,,,"]
    assert sheet.first_row == 2
    assert sheet.note == (
        "read from the sheet 'Orders', the first of the workbook's 2 sheets whose header"
        " row has the required columns"
    )


def test_no_sheet_with_the_columns_names_the_first_sheets_problem(tmp_path: Path) -> None:
    """When no sheet matches, the message is the CSV one, naming the sheet."""
    path = write_xlsx(tmp_path / "book.xlsx", {"Notes": [["a", "b"]], "More": [["c"]]})
    with pytest.raises(InputFileError, match=r"book.xlsx \(sheet 'Notes'\) lacks the required"):
        read_sheet(path, kind_of(path), LAYOUT)


def test_rows_keep_the_numbers_the_spreadsheet_shows(tmp_path: Path) -> None:
    """A header on row 3 (two empty rows above it) and an empty row in the data: the
    first record is row 4, and the empty row stays a record of its own."""
    book = xlsxwriter.Workbook(str(tmp_path / "book.xlsx"))
    sheet = book.add_worksheet()
    sheet.write_row(2, 1, HEADER)  # from B3: the data need not start in column A either
    sheet.write_row(3, 1, ["1", "1001"])
    sheet.write_row(5, 1, ["1", "1002"])
    book.close()
    path = tmp_path / "book.xlsx"
    sheet_read = read_sheet(path, kind_of(path), LAYOUT)
    assert sheet_read.first_row == 4
    assert text_of(sheet_read)[1:] == ["1,1001,,,,", ",,,,,", "1,1002,,,,"]


def test_a_sheet_wider_than_the_limit_is_refused(tmp_path: Path) -> None:
    """16,384 columns (Excel's last is XFD): refused, naming the sheet and the count."""
    path = write_xlsx(tmp_path / "wide.xlsx", {"Wide": [[*HEADER, *["x"] * (16_384 - 6)]]})
    with pytest.raises(InputFileError, match="'Wide' uses 16,384 columns, more than the 1,024"):
        read_sheet(path, kind_of(path), LAYOUT)


def test_a_sheet_that_would_need_terabytes_ends_the_child_not_us(tmp_path: Path) -> None:
    """Two cells, A1 and XFD1048576: calamine would allocate 512 GB and abort its process.
    The child's memory limit makes that immediate, and the file is refused."""
    book = xlsxwriter.Workbook(str(tmp_path / "corner.xlsx"))
    sheet = book.add_worksheet()
    sheet.write_string(0, 0, "order_id")
    sheet.write_string(1_048_575, 16_383, "x")
    book.close()
    path = tmp_path / "corner.xlsx"
    with pytest.raises(InputFileError, match="too large to read as a workbook"):
        read_sheet(path, kind_of(path), LAYOUT)


def test_a_reader_past_its_time_is_stopped(tmp_path: Path) -> None:
    """The child gets a deadline; past it the file is refused as taking too long."""
    path = write_xlsx(tmp_path / "book.xlsx", {"Sheet1": [HEADER]})
    with pytest.raises(InputFileError, match="took longer than 0 s to read"):
        read_sheet(path, kind_of(path), LAYOUT, Limits(seconds=0))


def test_more_text_than_the_limit_is_refused(tmp_path: Path) -> None:
    """The required columns' text is bounded (a shared string repeated on every row)."""
    rows = [HEADER, *(["1", "1001", "TRUE", "2026-11-20", "UPS", "x" * 1000] for _ in range(50))]
    path = write_xlsx(tmp_path / "book.xlsx", {"Sheet1": rows})
    assert len(read_sheet(path, "xlsx", LAYOUT).text) > 50_000
    with pytest.raises(InputFileError, match="hold more than"):
        read_sheet(path, "xlsx", LAYOUT, Limits(text=20_000))


DENYING_SETRLIMIT = """
import resource, sys
def denied(*_arguments):
    raise PermissionError(1, "Operation not permitted")
resource.setrlimit = denied  # what a seccomp filter without setrlimit answers
from ftpbridge.files import sheets
sys.exit(sheets.main())
"""


def test_a_reader_that_cannot_limit_itself_refuses_the_workbook(tmp_path: Path) -> None:
    """Where setrlimit is denied (a service's SystemCallFilter), no workbook is read
    without its bounds: the child refuses it, saying what to allow."""
    path = write_xlsx(tmp_path / "book.xlsx", {"Sheet1": [HEADER]})
    request = {
        "path": str(path),
        "name": path.name,
        "accepted": LAYOUT.accepted_headers(),
        "max_columns": 1024,
        "max_text": 1_000_000,
        "memory": 1 << 30,
        "cpu_seconds": 60,
    }
    finished = subprocess.run(
        [sys.executable, "-c", DENYING_SETRLIMIT],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    answer = json.loads(finished.stderr.strip().splitlines()[-1])
    assert (finished.returncode, finished.stdout) == (3, "")
    assert answer["ok"] is False
    assert "cannot be read safely here" in answer["message"]
    assert "SystemCallFilter" in answer["hint"]


def test_a_wide_sheet_is_passed_over_for_the_orders_sheet(tmp_path: Path) -> None:
    """A first sheet past the column limit is not read; the orders sheet after it is."""
    path = write_xlsx(
        tmp_path / "book.xlsx",
        {"Wide": [["x"] * 2_000], "Orders": [HEADER, ["1", "1001", "TRUE"]]},
    )
    sheet = read_sheet(path, kind_of(path), LAYOUT)
    assert text_of(sheet)[1] == "1,1001,TRUE,,,"
    assert "'Orders'" in sheet.note
