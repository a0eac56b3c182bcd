"""The fill-in workbook (export_format = "xlsx", ftpbridge/files/workbook_export.py): text
columns that keep zeros and long numbers, a date column, drop-downs for shipped and
carrier, a bold frozen header, widths that fit, text never a formula, and the worksheet's
row limit."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest

from ftpbridge.carriers import CARRIERS
from ftpbridge.errors import UsageError
from ftpbridge.files import workbook_export
from ftpbridge.files.exporting import file_name
from ftpbridge.files.layouts import load_layout
from ftpbridge.files.workbook_export import FillInWorkbook, check_fits
from ftpbridge.settings import build_settings
from tests.unit.test_exporting import NOW, export, item_rows, ledger_rows, load_one, partner

TEXT_HEADERS = {
    "order_id",
    "order_date",
    "item_id",
    "sku",
    "warehouse_sku",
    "upc",
    "product_name",
    "attributes",
    "ship_name",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_state",
    "ship_postal_code",
    "ship_country",
    "ship_phone",
    "email",
    "carrier",
    "tracking_number",
}


def open_sheet(path: Path):
    return openpyxl.load_workbook(path)["Orders"]


def test_a_workbook_is_named_xlsx_whatever_the_template_says() -> None:
    """'.csv' at the end of the template becomes '.xlsx'; another name gets '.xlsx' added;
    a CSV partner keeps its name."""
    settings = build_settings(
        {
            "partners": {
                "plain": {"export_format": "xlsx"},
                "txt": {"export_format": "xlsx", "filename_template": "orders-{date:%d%m}.txt"},
                "named": {"export_format": "xlsx", "filename_template": "o_{date:%Y}.XLSX"},
                "csv": {},
            }
        }
    )
    moment = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    names = {key: file_name(value, moment) for key, value in settings.partners.items()}
    assert names == {
        "plain": "orders_2026-11-23.xlsx",
        "txt": "orders-2311.txt.xlsx",
        "named": "o_2026.XLSX",
        "csv": "orders_2026-11-23.csv",
    }
    assert file_name(settings.partners["csv"], moment, "xlsx") == "orders_2026-11-23.xlsx"


def test_export_format_is_validated() -> None:
    """Only csv and xlsx are export formats."""
    with pytest.raises(Exception, match="export_format"):
        build_settings({"partners": {"acme": {"export_format": "ods"}}})


def test_identifiers_stay_text_and_the_sheet_is_ready_to_fill_in(loaded_store, settings) -> None:
    """Every identifier column is Text and holds text cells (07102 keeps its zero), quantity
    is a number, shipped a FALSE cell, shipped_date an empty date column; header bold and
    frozen; shipped and carrier have drop-downs to the sheet's last row."""
    result = export(loaded_store, settings, export_format="xlsx")
    assert result.name == "orders_2026-11-23.xlsx" and result.rows == 13
    sheet = open_sheet(result.path)
    header = [cell.value for cell in sheet[1]]
    assert header == load_layout("default").headers
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(min_row=2))
    assert len(rows) == 13
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        for name in TEXT_HEADERS:  # a text cell, or empty under the column's Text format
            if cells[name].value is not None:
                assert (cells[name].number_format, cells[name].data_type) == ("@", "s"), name
        assert (cells["quantity"].data_type, type(cells["quantity"].value)) == ("n", int)
        assert cells["shipped"].value is False
        assert cells["shipped_date"].value is None  # left for the warehouse, a date column
    postal = {row[2].value: row[header.index("ship_postal_code")].value for row in rows}
    assert postal["1004"] == "07102"
    letters = {name: openpyxl.utils.get_column_letter(i + 1) for i, name in enumerate(header)}
    for name in TEXT_HEADERS:
        assert sheet.column_dimensions[letters[name]].number_format == "@", name
    assert sheet.column_dimensions[letters["shipped_date"]].number_format == "yyyy-mm-dd"
    lists = {str(rule.sqref): rule.formula1 for rule in sheet.data_validations.dataValidation}
    assert lists == {
        f"{letters['shipped']}2:{letters['shipped']}1048576": '"TRUE,FALSE"',
        f"{letters['carrier']}2:{letters['carrier']}1048576": '"' + ",".join(CARRIERS) + '"',
    }


def test_columns_are_as_wide_as_their_text(loaded_store, settings) -> None:
    """A column fits its longest value (within 60 characters) and at least its header."""
    sheet = open_sheet(export(loaded_store, settings, export_format="xlsx").path)
    header = [cell.value for cell in sheet[1]]
    for position, name in enumerate(header):
        letter = openpyxl.utils.get_column_letter(position + 1)
        longest = max(len(str(row[position].value or "")) for row in sheet.iter_rows())
        width = sheet.column_dimensions[letter].width
        assert min(longest, 60) + 2 <= width <= max(longest, 12) + 3, (name, longest, width)


def test_customer_text_is_a_text_cell_never_a_formula(store, settings, tmp_path) -> None:
    """'=Poster (signed)' and '=HYPERLINK(...)' are written as the customer typed them, as
    text cells (no apostrophe added: a text cell is never evaluated)."""
    load_one(
        store,
        settings,
        tmp_path,
        product_name='=HYPERLINK("http://evil.example","x")',
        firstname="+cmd|' /C calc'!A0",
    )
    sheet = open_sheet(export(store, settings, export_format="xlsx").path)
    header = [cell.value for cell in sheet[1]]
    [row] = list(sheet.iter_rows(min_row=2))
    product = row[header.index("product_name")]
    assert (product.value, product.data_type) == ('=HYPERLINK("http://evil.example","x")', "s")
    assert row[header.index("ship_name")].data_type == "s"
    assert row[header.index("ship_name")].value.startswith("+cmd|")


def test_a_long_carrier_list_goes_to_a_hidden_sheet(tmp_path: Path) -> None:
    """An inline list holds 255 characters: a longer one is kept on a hidden sheet and the
    drop-down points there."""
    carriers = [f"CARRIER_NUMBER_{number:03d}" for number in range(40)]
    buffer = io.BytesIO()
    book = FillInWorkbook(buffer, load_layout("default"), "acme", carriers)
    book.close()
    workbook = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    assert workbook["Lists"].sheet_state == "hidden"
    assert [row[0] for row in workbook["Lists"].iter_rows(values_only=True)] == carriers
    rules = {rule.formula1 for rule in workbook["Orders"].data_validations.dataValidation}
    assert "Lists!$A$1:$A$40" in rules


def test_more_items_than_a_worksheet_holds_are_refused() -> None:
    """1,048,575 items and the header fit; one more is refused, suggesting CSV."""
    check_fits(1_048_575, "acme")
    with pytest.raises(UsageError, match="1,048,576 items to export, more than") as refused:
        check_fits(1_048_576, "acme")
    assert "--format csv" in (refused.value.hint or "")
    assert 'export_format = "csv"' in (refused.value.hint or "")


def test_a_refused_workbook_writes_nothing_and_marks_nothing(
    loaded_store, settings, monkeypatch
) -> None:
    """Over the limit (lowered to 10 rows for the test: 13 items), nothing is written,
    no item is marked exported and the ledger is untouched."""
    monkeypatch.setattr(workbook_export, "WORKSHEET_ROWS", 10)
    folder = Path(settings.base_dir) / "out"
    with pytest.raises(UsageError, match="13 items to export"):
        export(loaded_store, settings, folder=folder, export_format="xlsx")
    assert not folder.exists() or list(folder.iterdir()) == []
    assert {row["status"] for row in item_rows(loaded_store).values()} == {"pending", "cancelled"}
    assert ledger_rows(loaded_store) == []


def test_the_partner_setting_chooses_the_workbook(loaded_store, settings) -> None:
    """export_format = "xlsx" on the partner: the export is a workbook, under .xlsx."""
    configured = partner(settings, "acme", export_format="xlsx")
    result = export(loaded_store, settings, partner=configured)
    assert result.path.suffix == ".xlsx"
    assert result.path.read_bytes()[:2] == b"PK"
    assert NOW.date().isoformat() in result.name


def test_cli_export_format_xlsx(run_cli, loaded_store, tmp_path: Path) -> None:
    """ftpbridge export --format xlsx writes the workbook into the folder given."""
    out = tmp_path / "exports"
    out.mkdir()
    result = run_cli("export", "--partner", "acme", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    [written] = list(out.iterdir())
    assert written.suffix == ".xlsx"
    assert f"Exported 13 items for acme to {written}" in result.output
    assert len(list(open_sheet(written).iter_rows(min_row=2))) == 13
