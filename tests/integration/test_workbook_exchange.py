"""Workbooks through the exchange cycles on every real transport: a partner on
export_format = "xlsx" receives the fill-in workbook under its .xlsx name, and the
workbook a fulfiller fills in and drops in the inbox is taken by the poll like a CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd

from ftpbridge.exchange.export import export_and_upload
from ftpbridge.exchange.poll import poll_once
from tests.integration.test_exchange import UPS, exchange, make_settings, shipped_count

__all__ = ["exchange"]  # the fixture, shared with test_exchange.py


def test_a_workbook_partner_gets_an_xlsx_and_its_filled_in_copy_is_applied(
    exchange: Any, tmp_path: Path
) -> None:
    """export_format = "xlsx": uploaded as orders_DATE.xlsx; filled in (TRUE cells, dates,
    carriers, tracking numbers) and dropped as *_updated_*.xlsx, the poll applies every
    row, archives it and uploads its report, orders_updated_1.xlsx.report.csv."""
    settings, store, case = exchange
    settings = make_settings(tmp_path, case, store_url=settings.store_url, export_format="xlsx")
    partner = settings.partners["acme"]
    outcome = export_and_upload(store, settings, partner)
    assert outcome.export is not None
    sent = outcome.export.name
    assert sent.endswith(".xlsx") and sorted(p.name for p in (case.disk / "out").iterdir()) == [
        sent
    ]
    book = openpyxl.load_workbook(case.disk / "out" / sent)
    sheet = book["Orders"]
    header = [cell.value for cell in sheet[1]]
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row, header.index("shipped") + 1, True)
        sheet.cell(row, header.index("shipped_date") + 1, outcome.export.day)
        sheet.cell(row, header.index("carrier") + 1, "UPS")
        sheet.cell(row, header.index("tracking_number") + 1, UPS)
    name = "orders_updated_1.xlsx"
    book.save(case.disk / "in" / name)
    case.give(case.disk / "in" / name)
    taken = poll_once(store, settings, partner)
    assert [(r.status, r.applied, r.rejected) for r in taken.imports] == [("applied", 17, 0)]
    assert shipped_count(store) == 17
    archive = case.disk / "in" / "archive"
    assert sorted(p.name for p in archive.iterdir()) == [name, name + ".report.csv"]
    report = pd.read_csv(archive / (name + ".report.csv"), dtype=str)
    assert set(report["outcome"]) == {"applied"}
