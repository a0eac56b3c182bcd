"""``skus load|list`` and ``inventory import``: the shop's SKUs and a warehouse's stock."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from ftpbridge.cli.app import Context, friendly_errors, main, pass_state
from ftpbridge.cli.report_target import check_report_target, report_option
from ftpbridge.errors import UsageError
from ftpbridge.wording import plural

SKU_FIELDS = (
    "id",
    "factory_sku",
    "partner",
    "product_name",
    "product_id",
    "attributes",
    "upc",
    "weight",
    "weight_unit",
    "available",
    "in_stock_quantity",
    "reserve_quantity",
    "max_backorder_quantity",
    "sold_unshipped_quantity",
    "sold_shipped_quantity",
    "free_quantity",
    "updated_at",
)
TABLE = (
    ("sku_id", "id"),
    ("factory_sku", "factory_sku"),
    ("partner", "partner"),
    ("in_stock", "in_stock_quantity"),
    ("reserve", "reserve_quantity"),
    ("backorder", "max_backorder_quantity"),
    ("sold_unshipped", "sold_unshipped_quantity"),
    ("free", "free_quantity"),
    ("available", "available"),
    ("product_name", "product_name"),
)


@main.group()
def skus() -> None:
    """The shop's SKUs and their stock."""


@skus.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
@friendly_errors
def skus_load(state: Context, file: Path) -> None:
    """Load the SKU catalogue FILE (CSV with a header row, or JSON Lines: one SKU per
    line, e.g. {"id": "25", "factory_sku": "55665", "product_name": "Tour Tee"}).

    A SKU already known takes the fields the file gives; stock quantities given are set
    (and audited). Nothing is loaded if any line is wrong: every bad line is listed."""
    from ftpbridge.files.catalogue import load_catalogue

    if not file.exists():
        raise UsageError(f"no file {file}", hint="check the path")
    loaded = load_catalogue(
        state.store,
        file,
        list(state.settings.partners.values()),
        max_file_bytes=state.settings.daemon.max_file_bytes,
    )
    summary = loaded.summary
    stock = plural(summary.stock_changed, "SKU")
    click.echo(
        f"Loaded {plural(loaded.skus, 'SKU')} ({summary.new:,} new, {summary.updated:,} updated,"
        f" {summary.unchanged:,} unchanged); stock changed for {stock}."
    )


@skus.command("list")
@click.option("--partner", default=None, help="Only the SKUs this partner stocks.")
@click.option(
    "--low-stock",
    is_flag=True,
    help="Only SKUs low on stock: free stock (in stock - reserve - sold, not shipped) at"
    " most the partner's low_stock_threshold.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many SKUs.")
@pass_state
@friendly_errors
def skus_list(
    state: Context, partner: str | None, low_stock: bool, output_format: str, limit: int | None
) -> None:
    """List SKUs with their stock and what is sold but not shipped."""
    from ftpbridge.store.skus import DEFAULT_LOW_STOCK, SkuQuery, find_skus
    from ftpbridge.store.skus import low_stock as low_stock_skus

    if partner is not None:
        state.partner(partner)
    with state.existing_store.connect() as connection:
        if low_stock:
            found = low_stock_skus(
                connection,
                threshold=DEFAULT_LOW_STOCK,
                thresholds={
                    name: config.low_stock_threshold
                    for name, config in state.settings.partners.items()
                },
                partner=partner,
                limit=limit or 1_000_000,
            )
        else:
            found = find_skus(connection, SkuQuery(partner=partner, limit=limit))
    render_skus([sku_dict(sku) for sku in found], output_format, sys.stdout)


def sku_dict(sku: Any) -> dict[str, Any]:
    """A SkuRecord as plain JSON-ready values."""
    values = {name: getattr(sku, name) for name in SKU_FIELDS}
    values["updated_at"] = sku.updated_at.isoformat().replace("+00:00", "Z")
    return values


def render_skus(rows: list[dict[str, Any]], output_format: str, stream: TextIO) -> None:
    if output_format == "json":
        json.dump(rows, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
        return
    if output_format == "csv":
        from ftpbridge.files.formulas import neutralised

        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(SKU_FIELDS)
        for row in rows:  # the shop's and warehouses' texts: safe to open in a spreadsheet
            cells = [("" if row[name] is None else str(row[name])) for name in SKU_FIELDS]
            writer.writerow(neutralised(_object_array(cells)).tolist())
        return
    if not rows:
        stream.write("No SKUs.\n")
        return
    table = [[_cell(row[key]) for _, key in TABLE] for row in rows]
    widths = [
        min(40, max(len(name), *(len(line[index]) for line in table)))
        for index, (name, _) in enumerate(TABLE)
    ]
    header = "  ".join(name.ljust(width) for (name, _), width in zip(TABLE, widths, strict=True))
    stream.write(header.rstrip() + "\n")
    for line in table:
        cells = [cell[:width].ljust(width) for cell, width in zip(line, widths, strict=True)]
        stream.write("  ".join(cells).rstrip() + "\n")
    stream.write(plural(len(rows), "SKU") + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _object_array(values: list[str]) -> Any:
    import numpy as np

    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


# --------------------------------------------------------------------------- inventory


@main.group()
def inventory() -> None:
    """A warehouse's inventory files (stock levels) by hand."""


@inventory.command("import")
@click.option("--partner", required=True, help="The partner ([partners.NAME]) the file comes from.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Apply a snapshot even if it sets more than inventory_max_zeroed of the SKUs to 0.",
)
@report_option
@pass_state
@friendly_errors
def inventory_import(
    state: Context, partner: str, file: Path, dry_run: bool, force: bool, report: Path | None
) -> None:
    """Apply a warehouse's inventory FILE (sku, quantity, ...) to the partner's stock, as
    the poll does: the partner's inventory_mode (snapshot or delta) and hold."""
    from ftpbridge.files.inventory import import_inventory

    settings = state.partner(partner)
    check_report_target(file, report)
    result = import_inventory(
        state.existing_store if dry_run else state.store,  # a dry run never creates a store
        settings,
        file,
        dry_run=dry_run,
        force=force,
        report_path=report,
        max_file_bytes=state.settings.daemon.max_file_bytes,
    )
    print_inventory(result, sys.stdout)
    sys.exit(result.exit_code)


def print_inventory(result: Any, stream: TextIO) -> None:
    """The summary of an inventory import, worded like an updated file's: counts, then the
    rejected rows grouped by reason, each with its count and first rows (collected while
    the file was read: the report is never read back)."""
    from ftpbridge.logs import shown

    stream.write(shown(result.describe()) + "\n")
    if result.status == "dry_run":
        stream.write("Dry run: nothing was changed.\n")
    if result.hint and result.status in ("held", "rejected_file"):
        stream.write(f"Try: {result.hint}\n")
    if result.rejections.total:
        stream.write(f"Rejected {plural(result.rejections.total, 'row')}, by reason:\n")
        for line in result.rejections.lines():
            stream.write(shown(line) + "\n")  # cells from the file: a bidi override shown
    if result.report_path is not None:
        stream.write(f"Report: {result.report_path}\n")
