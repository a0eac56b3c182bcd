"""What the command line shows people: item listings and import summaries."""

from __future__ import annotations

import csv
import datetime as dt
import json
from typing import Any, TextIO

from ftpbridge.files.importing import ImportResult
from ftpbridge.logs import shown as escaped
from ftpbridge.settings import Settings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.items import list_items

ITEM_COLUMNS = (
    "order_id",
    "item_id",
    "partner",
    "status",
    "order_date",
    "sku_id",
    "warehouse_sku",
    "product_name",
    "quantity",
    "shipped_date",
    "carrier",
    "tracking_number",
)
TABLE_COLUMNS = (
    "order_id",
    "item_id",
    "partner",
    "status",
    "order_date",
    "warehouse_sku",
    "quantity",
    "shipped_date",
    "carrier",
    "tracking_number",
)
REJECTED_SHOWN = 20


def list_orders(
    store: Store,
    settings: Settings,
    *,
    partner: str | None,
    status_filter: str,
    limit: int | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Items for ``orders list``, as plain JSON-ready values (identifiers as strings)."""
    now = now or utcnow()
    cutoffs = {
        name: now - dt.timedelta(days=config.past_due_days)
        for name, config in settings.partners.items()
        if partner is None or name == partner
    }
    with store.connect() as connection:
        rows = list_items(
            connection,
            partner=partner,
            status_filter=status_filter,
            past_due_before=cutoffs,
            limit=limit,
        )
    return [_plain(row) for row in rows]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ITEM_COLUMNS:
        value = row.get(key)
        if key == "order_date" and value is not None:
            value = value.isoformat().replace("+00:00", "Z")
        elif key == "shipped_date":
            value = value.isoformat() if value is not None else None
        elif key == "quantity":
            value = int(value) if value is not None else None
        elif key in ("carrier", "tracking_number", "partner"):
            value = value if value not in ("",) else None
        else:
            value = "" if value is None else str(value)
        out[key] = value
    return out


def render_items(rows: list[dict[str, Any]], output_format: str, stream: TextIO) -> None:
    if output_format == "json":
        json.dump(rows, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
        return
    if output_format == "csv":
        writer = csv.DictWriter(stream, fieldnames=list(ITEM_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {key: "" if value is None else value for key, value in row.items()} for row in rows
        )
        return
    if not rows:
        stream.write("No items.\n")
        return
    table = [[("" if row[key] is None else str(row[key])) for key in TABLE_COLUMNS] for row in rows]
    widths = [
        min(40, max(len(name), *(len(line[index]) for line in table)))
        for index, name in enumerate(TABLE_COLUMNS)
    ]
    stream.write(
        "  ".join(
            name.ljust(width) for name, width in zip(TABLE_COLUMNS, widths, strict=True)
        ).rstrip()
        + "\n"
    )
    for line in table:
        cells = [cell[:width].ljust(width) for cell, width in zip(line, widths, strict=True)]
        stream.write("  ".join(cells).rstrip() + "\n")
    stream.write(f"{len(rows)} item(s)\n")


def print_import(result: ImportResult, stream: TextIO) -> None:
    """The summary of an import, and its first rejected rows with their reasons."""
    if result.status == "already_processed":
        stream.write(result.message + "\n")
        return
    if result.status == "rejected_file":
        stream.write(f"Rejected {result.file_name}: {result.message}\n")
        if result.hint:
            stream.write(f"Try: {result.hint}\n")
        if result.report_path:
            stream.write(f"Report: {result.report_path}\n")
        return
    verb = "Would apply" if result.status == "dry_run" else "Applied"
    stream.write(
        f"{result.file_name} ({result.partner}): {result.rows} rows: {result.applied} applied,"
        f" {result.unchanged} unchanged, {result.rejected} rejected\n"
    )
    if result.status == "dry_run":
        stream.write("Dry run: nothing was changed.\n")
        for change in result.preview[:50]:
            stream.write(
                f"  {verb}: row {change['row']}: order {change['order_id']}"
                f" item {change['item_id']}"
                f" -> shipped {change['new_shipped_date']} {change['new_carrier']}"
                f" {change['new_tracking_number']} ({change['reason']})\n"
            )
        if result.applied > 50:
            stream.write(f"  ... and {result.applied - 50} more\n")
    if result.rejected:
        # From the import's result, never by reading the report back (issue 12 item 11:
        # a cell of 128 KB or more made that fail after the import had committed).
        stream.write("Rejected rows:\n")
        shown = 0
        for row in result.rejected_rows[:REJECTED_SHOWN]:
            order, item, reason = (
                escaped(str(row[key])) for key in ("order_id", "item_id", "reason")
            )
            stream.write(f"  row {row['row']} (order {order}, item {item}): {reason}\n")
            shown += 1
        if result.rejected > shown:
            stream.write(f"  ... and {result.rejected - shown} more\n")
    if result.report_path is not None:
        stream.write(f"Report: {result.report_path}\n")
