"""Workbooks through a real spreadsheet program: LibreOffice (headless, installed by
scripts/test) re-saves our fill-in .xlsx and a fulfiller's filled-in workbook as .xlsx,
.ods and .xls, and what comes back keeps every zero and long number, and imports to
exactly the expected store state."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.files.layouts import load_layout
from tests.unit.test_exporting import NOW as EXPORT_NOW
from tests.unit.test_exporting import export, load_one
from tests.unit.test_importing import NOW, item_state, read_report, shipped
from tests.workbook_files import EXPECTED_ROWS, EXPECTED_SHIPPED, write_filled_in

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
# Identifiers a spreadsheet likes to damage: leading zeros, an SSCC, numbers past 15 digits.
FRAGILE = {
    "ship_postal_code": "02134",
    "factory_sku": "00012345000000000027",
    "sku_upc": "0123456789012",
    "phone": "0044 20 7946 0958",
    "product_name": "=1+1",
}


def resave(source: Path, target_format: str, folder: Path) -> Path:
    """``source`` opened and saved by LibreOffice as ``target_format`` (xlsx, ods, xls)."""
    assert SOFFICE, "LibreOffice is not installed: scripts/test installs libreoffice-calc-nogui"
    folder.mkdir(parents=True, exist_ok=True)
    filters = {"xlsx": "xlsx:Calc MS Excel 2007 XML", "ods": "ods", "xls": "xls:MS Excel 97"}
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{folder / 'profile'}",
            "--headless",
            "--convert-to",
            filters[target_format],
            "--outdir",
            str(folder),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    converted = folder / f"{source.stem}.{target_format}"
    assert converted.exists(), f"LibreOffice wrote no {converted.name}"
    return converted


def cells(path: Path) -> list[list[object]]:
    """Every cell of the first sheet, as the reader sees it."""
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


@pytest.mark.parametrize("store_backend", ["sqlite"])
@pytest.mark.parametrize("target_format", ["xlsx", "ods"])
def test_our_workbook_resaved_by_libreoffice_keeps_every_zero_and_long_number(
    store, settings, tmp_path: Path, target_format: str
) -> None:
    """The fill-in .xlsx with a ZIP 02134, an SSCC 00012345000000000027, a UPC with a
    leading zero and a phone 0044 ...: LibreOffice's .xlsx and .ods hold the same text
    cells, and the tracking column is still Text for what the warehouse types."""
    load_one(
        store,
        settings,
        tmp_path,
        postal_code=FRAGILE["ship_postal_code"],
        factory_sku=FRAGILE["factory_sku"],
        sku_upc=FRAGILE["sku_upc"],
        phone=FRAGILE["phone"],
        product_name=FRAGILE["product_name"],
    )
    ours = export(store, settings, export_format="xlsx", now=EXPORT_NOW).path
    before = cells(ours)
    resaved = resave(ours, target_format, tmp_path / "lo")
    after = cells(resaved)
    assert after == before
    row = dict(zip(after[0], after[1], strict=True))
    assert row["ship_postal_code"] == "02134"
    assert row["warehouse_sku"] == "00012345000000000027"
    assert row["upc"] == "0123456789012"
    assert row["ship_phone"] == "0044 20 7946 0958"
    assert row["product_name"] == "=1+1"  # text, not the formula's 2
    if target_format == "xlsx":
        sheet = openpyxl.load_workbook(resaved).worksheets[0]
        header = [cell.value for cell in sheet[1]]
        letter = openpyxl.utils.get_column_letter(header.index("tracking_number") + 1)
        assert sheet.column_dimensions[letter].number_format == "@"


@pytest.mark.parametrize("target_format", ["xlsx", "ods", "xls"])
def test_a_filled_in_workbook_resaved_by_libreoffice_imports_exactly(
    store, settings, tmp_path: Path, target_format: str
) -> None:
    """The filled-in workbook (date and number cells, a float-damaged tracking number,
    TRUE/FALSE, a formula, a second sheet, a hidden row) saved by LibreOffice as .xlsx,
    .ods and .xls: the store ends exactly as the rows say (SQLite and PostgreSQL)."""
    load_orders(store, Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl",
                list(settings.partners.values()))  # fmt: skip
    before = item_state(store)
    source = write_filled_in(tmp_path / "orders_updated.xlsx")
    resaved = resave(source, target_format, tmp_path / "lo")
    partner = settings.partners["acme"]
    result = import_file(store, partner, load_layout(partner.layout), resaved, now=NOW)
    assert result.status == "applied", result.message
    expected = dict(before)
    for item, (date, carrier, tracking) in EXPECTED_SHIPPED.items():
        expected[item] = shipped(date, carrier, tracking)
    assert item_state(store) == expected
    note, *rows = read_report(result)
    assert "sheet 'Orders'" in note["reason"]
    assert [(int(r["row"]), r["item_id"], r["outcome"]) for r in rows] == [
        (row, item, outcome) for row, item, outcome, _ in EXPECTED_ROWS
    ]
    assert "scientific notation" in rows[2]["reason"]
