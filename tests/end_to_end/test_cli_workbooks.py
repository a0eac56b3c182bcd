"""The README's workbook flow through the installed ``ftpbridge`` command: export the
fill-in workbook, fill it in as a warehouse would, import the saved .xlsx."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl

from tests.end_to_end.test_cli_core import (
    ACME_EXPORTED,
    FEDEX,
    UPS,
    ftpbridge,
    shipped_items,
    today,
    workspace,
)

__all__ = ["ftpbridge", "workspace"]  # the fixtures, shared with test_cli_core.py


def test_readme_workbook_flow(ftpbridge, workspace: Path) -> None:
    """export --format xlsx → orders_DATE.xlsx; TRUE and date cells, a FedEx number typed
    into its Text column; import of orders_updated_DATE.xlsx applies them (exit 0), and
    the same workbook again changes nothing."""
    assert ftpbridge("orders", "load", "examples/orders.jsonl").returncode == 0
    exported = ftpbridge("export", "--partner", "acme", "--format", "xlsx")
    assert exported.returncode == 0, exported.stderr
    assert f"Exported {ACME_EXPORTED} items for acme" in exported.stdout
    [path] = workspace.glob("orders_*.xlsx")
    assert path.name == f"orders_{today():%Y-%m-%d}.xlsx"
    book = openpyxl.load_workbook(path)
    sheet = book["Orders"]
    header = [cell.value for cell in sheet[1]]
    rows = {
        sheet.cell(r, header.index("item_id") + 1).value: r for r in range(2, sheet.max_row + 1)
    }
    for item, carrier, number in (("1001", "UPS", UPS), ("1004", "FEDEX", FEDEX)):
        sheet.cell(rows[item], header.index("shipped") + 1, True)
        sheet.cell(
            rows[item], header.index("shipped_date") + 1, dt.datetime.combine(today(), dt.time())
        )
        sheet.cell(rows[item], header.index("carrier") + 1, carrier)
        sheet.cell(rows[item], header.index("tracking_number") + 1, number)
    updated = workspace / f"orders_updated_{today():%Y-%m-%d}.xlsx"
    book.save(updated)
    imported = ftpbridge("import", "--partner", "acme", updated.name)
    assert imported.returncode == 0, imported.stdout
    assert f"{ACME_EXPORTED} rows: 2 applied, {ACME_EXPORTED - 2} unchanged, 0 rejected" in (
        imported.stdout
    )
    assert shipped_items(workspace) == ["1001", "1004"]
    assert (workspace / (updated.name + ".report.csv")).exists()
    again = ftpbridge("import", "--partner", "acme", updated.name)
    assert again.returncode == 0 and "already processed" in again.stdout
