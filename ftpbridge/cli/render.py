"""What the command line shows people: item listings and import summaries."""

from __future__ import annotations

import csv
import datetime as dt
import json
from typing import Any, TextIO

from ftpbridge.files.import_results import ImportResult
from ftpbridge.logs import shown as escaped
from ftpbridge.settings import Settings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.items import list_items
from ftpbridge.wording import plural

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
        _write_csv(rows, stream)
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
    stream.write(f"{plural(len(rows), 'item')}\n")


def _write_csv(rows: list[dict[str, Any]], stream: TextIO) -> None:
    """The items as CSV, every text cell through the one formula rule (as the export
    writes them): product names, SKUs and ids come from the shop's customers and catalogue,
    and a CSV is opened in a spreadsheet."""
    import numpy as np

    from ftpbridge.files.formulas import neutralised

    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(ITEM_COLUMNS)
    if not rows:
        return
    columns = []
    for key in ITEM_COLUMNS:
        values = np.array(["" if row[key] is None else str(row[key]) for row in rows], dtype=object)
        columns.append(values if key in CSV_OWN_COLUMNS else neutralised(values))
    writer.writerows(zip(*columns, strict=True))


# Columns ftpbridge writes itself (dates, counts, its own words): never a formula.
CSV_OWN_COLUMNS = frozenset({"partner", "status", "order_date", "quantity", "shipped_date"})


def print_import(result: ImportResult, stream: TextIO) -> None:
    """The summary of an import: counts, then rejected rows and warnings (rows applied
    anyway) grouped by reason, each with its count and first rows."""
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
        f"{result.file_name} ({result.partner}): {plural(result.rows, 'row')}:"
        f" {result.applied:,} {'would apply' if result.status == 'dry_run' else 'applied'},"
        f" {result.unchanged:,} unchanged, {result.rejected:,} rejected\n"
    )
    if result.status == "dry_run":
        stream.write(
            'Dry run: nothing was changed (the report says "would apply" for the rows an'
            " import would apply).\n"
        )
        for change in result.preview[:50]:
            stream.write(
                escaped(
                    f"  {verb}: row {change['row']}: order {change['order_id']}"
                    f" item {change['item_id']}"
                    f" -> shipped {change['new_shipped_date']} {change['new_carrier']}"
                    f" {change['new_tracking_number']} ({change['reason']})"
                )
                + "\n"
            )
        if result.applied > 50:
            stream.write(f"  ... and {result.applied - 50:,} more\n")
    if result.rejections.total:
        stream.write(f"Rejected {plural(result.rejections.total, 'row')}, by reason:\n")
        for line in result.rejections.lines():
            stream.write(escaped(line) + "\n")  # cells from the file: a bidi override shown
    if result.warnings.total:
        stream.write(
            f"Warnings on {plural(result.warnings.total, 'row')} (applied anyway), by reason:\n"
        )
        for line in result.warnings.lines():
            stream.write(escaped(line) + "\n")
    if result.report_path is not None:
        stream.write(f"Report: {result.report_path}\n")
