"""Export: a partner's items waiting to ship → one CSV file in the partner's layout.

The file is written in batches (memory does not grow with the number of items), through a
temporary file renamed onto its final name, and the items are marked ``acknowledged`` in
the same transaction that records the file in the ledger.

Spreadsheet safety (CSV injection). Cells that come from customers or the shop (names,
addresses, e-mail, product names, attributes, SKUs) are what a hostile buyer controls. A
cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written
with a leading apostrophe (``'=HYPERLINK(...)``), which Excel, LibreOffice and Google
Sheets show as text and never evaluate, *unless* the cell is a phone number or a plain
negative number: ``+`` followed only by digits, spaces and ``( ) . / -``
(``+44 20 7946 0958``, ``+1 (617) 555-0100``), or ``-`` followed only by digits with at
most one decimal point or comma (``-12``, ``-3.5``). Such cells cannot call a function,
open a link or start DDE, so they keep their exact text. Anything else that starts with a
sign is arithmetic a spreadsheet would compute (``-2+3`` shows as 1, ``+1+1`` as 2) and
gets the apostrophe too. This follows OWASP's CSV-injection advice, narrowed so that
phone numbers survive.

A lone carriage return inside a cell is written as a line feed: Python's CSV writer
quotes only cells holding a character of the line ending in use, so with ``lf`` endings a
bare ``\r`` would go out unquoted and split the row for every reader.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ftpbridge.csvfiles import atomic_output, replace_durably, sha256_of
from ftpbridge.layouts import Layout
from ftpbridge.settings import PartnerSettings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.items import EXPORT_NAMES, iter_exportable, mark_exported

# Fields whose content comes from customers or the shop catalogue.
UNTRUSTED_FIELDS = frozenset(
    {
        "sku_id",
        "warehouse_sku",
        "upc",
        "product_name",
        "product_type",
        "attributes",
        "ship_name",
        "ship_firstname",
        "ship_lastname",
        "ship_address1",
        "ship_address2",
        "ship_city",
        "ship_state",
        "ship_postal_code",
        "ship_country",
        "ship_phone",
        "email",
    }
)
_DANGEROUS_START = r"^[=+\-@\t\r]"
_HARMLESS = r"\+[0-9\s()./\-]*|-[0-9]+(?:[.,][0-9]+)?"


def neutralise_formulas(values: pd.Series) -> pd.Series:
    """Prefix ``'`` to cells a spreadsheet would run as a formula (see the module doc)."""
    dangerous = values.str.contains(_DANGEROUS_START, regex=True) & ~values.str.fullmatch(_HARMLESS)
    if not dangerous.any():
        return values
    return values.mask(dangerous, "'" + values)


@dataclass(frozen=True)
class ExportResult:
    partner: str
    name: str
    path: Path
    rows: int
    sha256: str
    size: int
    file_id: int
    day: str


def file_name(partner: PartnerSettings, now: dt.datetime) -> str:
    """The export's file name: the partner's template filled with its local date."""
    local = now.astimezone(partner.zone)
    return partner.filename_template.format(date=local, partner=partner.name)


def _frame(rows: list[Any], layout: Layout, partner: PartnerSettings) -> pd.DataFrame:
    raw = pd.DataFrame.from_records(rows, columns=list(EXPORT_NAMES))
    text = {
        name: raw[name].fillna("").astype(str).str.replace("\r(?!\n)", "\n", regex=True)
        for name in EXPORT_NAMES
        if name not in ("order_date", "quantity", "shipped_date")
    }
    order_date = (
        pd.to_datetime(raw["order_date"], utc=True)
        .dt.tz_convert(partner.timezone)
        .dt.strftime(partner.date_format)
    )
    fields: dict[str, pd.Series] = {
        **text,
        "order_date": order_date,
        "quantity": raw["quantity"].astype("int64").astype(str),
        "ship_name": (text["ship_firstname"] + " " + text["ship_lastname"]).str.strip(),
        "shipped": pd.Series("False", index=raw.index),
        "shipped_date": pd.Series("", index=raw.index),
        "carrier": pd.Series("", index=raw.index),
        "tracking_number": pd.Series("", index=raw.index),
    }
    columns = {}
    for position, column in enumerate(layout.columns):
        values = fields[column.field]
        if column.field in UNTRUSTED_FIELDS:
            values = neutralise_formulas(values)
        columns[position] = values
    frame = pd.DataFrame(columns)
    frame.columns = layout.headers
    return frame


def export_partner(
    store: Store,
    partner: PartnerSettings,
    layout: Layout,
    folder: Path,
    *,
    now: dt.datetime | None = None,
    name: str | None = None,
) -> ExportResult:
    """Write the partner's export into ``folder`` and record it; return what was written.

    The file appears under its final name only complete; if anything fails, nothing is
    marked exported and no file is left behind.
    """
    now = now or utcnow()
    name = name or file_name(partner, now)
    target = folder / name
    newline = "\r\n" if partner.line_ending == "crlf" else "\n"
    exported_ids: list[str] = []
    with store.begin() as connection, atomic_output(target) as (handle, temporary):
        if partner.bom:
            handle.write("\ufeff".encode(partner.encoding))
        text = io.TextIOWrapper(handle, encoding=partner.encoding, errors="replace", newline="")
        header_written = False
        for batch in iter_exportable(
            connection, partner.name, new_only=partner.export_mode == "new_only"
        ):
            frame = _frame(batch, layout, partner)
            frame.to_csv(
                text,
                sep=partner.delimiter,
                lineterminator=newline,
                index=False,
                header=not header_written,
            )
            header_written = True
            exported_ids.extend(row[EXPORT_NAMES.index("item_id")] for row in batch)
        if not header_written:
            pd.DataFrame(columns=layout.headers).to_csv(
                text, sep=partner.delimiter, lineterminator=newline, index=False
            )
        text.flush()
        text.detach()
        handle.flush()
        sha256, size = sha256_of(temporary)
        day = now.astimezone(partner.zone).date().isoformat()
        file_id = ledger.record(
            connection,
            now,
            partner=partner.name,
            direction="export",
            name=name,
            sha256=sha256,
            size=size,
            state="written",
            rows_total=len(exported_ids),
            day=day,
            local_path=str(target),
        )
        mark_exported(connection, exported_ids, now)
        # Renamed before the commit: a crash between the two leaves a complete file and
        # items still pending, which the next export sends again. The other order could
        # mark items exported that no file holds.
        replace_durably(temporary, target)
    return ExportResult(partner.name, name, target, len(exported_ids), sha256, size, file_id, day)
