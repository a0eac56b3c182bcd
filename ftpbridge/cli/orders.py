"""The ``orders`` commands: load orders into the store and look at them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ftpbridge.cli.app import Context, friendly_errors, main, pass_state


@main.group()
def orders() -> None:
    """Load orders into the store and look at them."""


@orders.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
@friendly_errors
def orders_load(state: Context, file: Path) -> None:
    """Load orders from FILE (JSON Lines, one Topspin-style order per line)."""
    from ftpbridge.files.intake import load_orders

    result = load_orders(state.store, file, list(state.settings.partners.values()))
    summary = result.summary
    click.echo(
        f"Loaded {result.orders} orders ({summary.orders_new} new, {summary.orders_updated}"
        f" updated) with {result.items} items ({summary.items_new} new,"
        f" {summary.items_updated} updated, {summary.items_kept_shipped} already shipped"
        " and kept)."
    )
    for partner, count in sorted(result.routed.items()):
        click.echo(f"  {count} items routed to {partner}")
    if result.unrouted:
        click.echo(
            f"Warning: {result.unrouted} items match no partner's skus and there is no default"
            " partner; they will not be exported. Add 'skus' or 'default = true' to a partner"
            " and load the file again.",
            err=True,
        )


@orders.command("list")
@click.option("--partner", default=None, help="Only this partner's items.")
@click.option(
    "--filter",
    "status_filter",
    type=click.Choice(
        ["all", "pending", "acknowledged", "not_shipped", "shipped", "cancelled", "past_due"]
    ),
    default="not_shipped",
    show_default=True,
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many items.")
@pass_state
@friendly_errors
def orders_list(
    state: Context, partner: str | None, status_filter: str, output_format: str, limit: int | None
) -> None:
    """List items with their shipping state."""
    from ftpbridge.cli.render import list_orders, render_items

    if partner is not None:
        state.partner(partner)
    rows = list_orders(
        state.existing_store,
        state.settings,
        partner=partner,
        status_filter=status_filter,
        limit=limit,
    )
    render_items(rows, output_format, sys.stdout)
