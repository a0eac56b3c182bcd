"""A fulfiller's filled-in workbook, as a spreadsheet program stores what people type: ids
typed into number cells, dates as date cells, TRUE/FALSE cells, a tracking number a
spreadsheet turned into a float, a formula with its cached value, a hidden row and a
second sheet. Written with XlsxWriter; the LibreOffice tests re-save it as .xlsx and .ods.

``EXPECTED`` is what importing it must do to the items of examples/orders.jsonl (partner
``acme``, imported "now" = 2026-11-23 12:00 UTC), row by row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import xlsxwriter

UPS = "1Z5R89390357567127"
FEDEX = "986578788855"  # 12 digits: exact in a number cell
USPS_FLOAT = 9400111899223456789012.0  # 22 digits: a float has lost the last ones

HEADER = ["Order ID", "Item ID", "Shipped", "Shipped Date", "Carrier", "Tracking Number", "Note"]

# row → (item_id, outcome, fragment of the reason)
EXPECTED_ROWS = [
    (2, "1001", "applied", "shipped"),
    (3, "1002", "unchanged", "not shipped yet"),
    (4, "1004", "rejected", "scientific notation"),
    (5, "1005", "applied", "shipped"),
    (6, "1006", "applied", "shipped"),
    (7, "1007", "applied", "shipped"),
]
# item → (shipped_date, carrier, tracking_number) after the import
EXPECTED_SHIPPED = {
    "1001": ("2026-11-20", "UPS", UPS),
    "1005": ("2026-11-21", "UPS", UPS),
    "1006": ("2026-11-22", "FEDEX", FEDEX),
    "1007": ("2026-11-21", "UPS", UPS),
}


def write_filled_in(path: Path) -> Path:
    """Write the filled-in workbook (see the module doc) to ``path``."""
    book = xlsxwriter.Workbook(str(path))
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet = book.add_worksheet("Orders")
    sheet.write_row(0, 0, HEADER)
    # Row 2: ids typed as numbers, TRUE as a boolean cell, a date cell.
    sheet.write_number(1, 0, 1)
    sheet.write_number(1, 1, 1001)
    sheet.write_boolean(1, 2, True)
    sheet.write_datetime(1, 3, dt.datetime(2026, 11, 20), date)
    sheet.write_string(1, 4, "UPS")
    sheet.write_string(1, 5, UPS)
    # Row 3: not shipped (FALSE cell), the rest left empty.
    sheet.write_string(2, 0, "1")
    sheet.write_string(2, 1, "1002")
    sheet.write_boolean(2, 2, False)
    # Row 4: a USPS number typed into a number cell: damaged, refused.
    sheet.write_number(3, 0, 3)
    sheet.write_number(3, 1, 1004)
    sheet.write_boolean(3, 2, True)
    sheet.write_datetime(3, 3, dt.datetime(2026, 11, 20), date)
    sheet.write_string(3, 4, "USPS")
    sheet.write_number(3, 5, USPS_FLOAT)
    # Row 5: hidden, still a row of the file.
    sheet.write_row(4, 0, ["3", "1005", "yes", "2026-11-21", "ups", UPS])
    sheet.set_row(4, None, None, {"hidden": True})
    # Row 6: the item id from a formula (its cached value counts), a FedEx number cell.
    sheet.write_string(5, 0, "4")
    sheet.write_formula(5, 1, "=1000+6", None, 1006)
    sheet.write_boolean(5, 2, True)
    sheet.write_datetime(5, 3, dt.datetime(2026, 11, 22), date)
    sheet.write_string(5, 4, "FedEx")
    sheet.write_number(5, 5, int(FEDEX))
    # Row 7: a date cell with a time of day.
    sheet.write_row(6, 0, ["5", "1007", "TRUE"])
    sheet.write_datetime(6, 3, dt.datetime(2026, 11, 21, 14, 30), moment)
    sheet.write_row(6, 4, ["UPS", UPS, "=not a formula, typed as text"])
    # A second sheet, which is not read.
    book.add_worksheet("Notes").write_row(0, 0, ["Picked by", "Sam"])
    book.close()
    return path
