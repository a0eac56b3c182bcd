"""Property, through the fill-in workbook: random orders → load → export as .xlsx → every
cell reads back exactly as the CSV export writes it (zeros, long numbers, formula-like
text as text) → a fulfiller fills it in a spreadsheet (openpyxl, typing TRUE cells, date
cells or text) → import → the store holds exactly what was shipped; importing the same
workbook again changes nothing. The CSV round trip is tests/unit/test_property.py."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftpbridge.files.exporting import UNTRUSTED_FIELDS, export_partner
from ftpbridge.files.formulas import neutralise_formulas
from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.files.layouts import load_layout
from ftpbridge.settings import build_settings
from ftpbridge.store import open_store
from tests.unit.test_property import NOW, PARTNERS, fulfil, order_sets, state

LAYOUT = load_layout("default")
UNTRUSTED = {column.header for column in LAYOUT.columns if column.field in UNTRUSTED_FIELDS}


def workbook_frame(path: Path) -> tuple[Any, Any, pd.DataFrame]:
    """The export's sheet as people see it: (workbook, sheet, the cells as text)."""
    book = openpyxl.load_workbook(path)
    sheet = book["Orders"]
    rows = list(sheet.iter_rows(values_only=True))
    frame = pd.DataFrame(rows[1:], columns=rows[0], dtype=object)
    return book, sheet, frame


def as_csv_writes_it(frame: pd.DataFrame) -> pd.DataFrame:
    """The workbook's cells as the CSV export spells them: numbers as digits, FALSE as
    False, empty cells as "", formula-like text with the CSV's apostrophe."""
    text = frame.map(lambda v: "" if v is None else "False" if v is False else str(v))
    for column in text.columns:
        if column in UNTRUSTED:
            text[column] = neutralise_formulas(text[column].astype(str))
    return text.astype(str)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(records=order_sets(), data=st.data())
def test_export_fill_in_import_round_trip_through_xlsx(
    records: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Whatever the orders and however the fulfiller fills the workbook in, the export's
    text survives, and after the import exactly the shipped items are shipped."""
    configured = build_settings({"partners": PARTNERS})
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        store = open_store(f"sqlite:///{folder / 'store.db'}")
        try:
            orders_path = folder / "orders.jsonl"
            orders_path.write_text(
                "\n".join(json.dumps(record) for record in records) + "\n", encoding="utf-8"
            )
            load_orders(store, orders_path, list(configured.partners.values()))
            loaded = state(store)
            expected: dict[str, Any] = {}
            for name, partner in configured.partners.items():
                csv_export = export_partner(store, partner, LAYOUT, folder / "csv", now=NOW)
                csv_frame = pd.read_csv(
                    csv_export.path, dtype=str, keep_default_na=False, encoding=partner.encoding
                )
                export = export_partner(
                    store, partner, LAYOUT, folder / name, now=NOW, export_format="xlsx"
                )
                assert export.name.endswith(".xlsx") and export.rows == len(csv_frame)
                book, sheet, frame = workbook_frame(export.path)
                pd.testing.assert_frame_equal(as_csv_writes_it(frame), csv_frame)

                order_days = {
                    str(item["id"]): dt.datetime.fromisoformat(record["created_at"])
                    .astimezone(partner.zone)
                    .date()
                    for record in records
                    for item in record["items"]
                }
                today = NOW.astimezone(partner.zone).date()
                typed, shipments = fulfil(
                    data.draw, as_csv_writes_it(frame), name, order_days, today
                )
                expected.update(shipments)
                columns = {header: number + 1 for number, header in enumerate(frame.columns)}
                for position, item_id in enumerate(typed["item_id"]):
                    row = position + 2
                    values = typed.iloc[position]
                    shipped = values["shipped"]
                    if item_id in shipments and data.draw(st.booleans(), label="TRUE cell"):
                        shipped = True  # picked from the drop-down: a TRUE cell
                    sheet.cell(row, columns["shipped"], shipped)
                    date: Any = values["shipped_date"]
                    if item_id in shipments and data.draw(st.booleans(), label="date cell"):
                        date = dt.datetime.combine(shipments[item_id].date, dt.time())
                    sheet.cell(row, columns["shipped_date"], date or None)
                    sheet.cell(row, columns["carrier"], values["carrier"] or None)
                    sheet.cell(row, columns["tracking_number"], values["tracking_number"] or None)
                updated = folder / name / f"orders_updated_{name}.xlsx"
                book.save(updated)
                result = import_file(store, partner, LAYOUT, updated, now=NOW)
                report = result.report_path.read_text(encoding="utf-8")
                assert result.status == "applied", result.message
                assert result.rejected == 0, report
                assert result.applied == len(shipments), report
                again = import_file(store, partner, LAYOUT, updated, now=NOW)
                assert again.status == "already_processed"
            after = state(store)
            for item_id, (partner_name, status, *_rest) in loaded.items():
                if item_id in expected:
                    shipment = expected[item_id]
                    assert after[item_id] == (
                        partner_name,
                        "shipped",
                        shipment.date,
                        shipment.carrier,
                        shipment.tracking,
                    )
                elif status == "cancelled":
                    assert after[item_id] == loaded[item_id]
                else:
                    assert after[item_id] == (partner_name, "acknowledged", None, None, None)
        finally:
            store.close()
