"""The ``orders`` commands: load orders into the store and look at them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ftpbridge.cli.app import Choice, Context, friendly_errors, main, pass_state
from ftpbridge.errors import EXIT_ATTENTION, UsageError
from ftpbridge.wording import plural


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

    if not file.is_file():
        raise UsageError(
            f"no file {file}" if not file.exists() else f"{file} is not a file",
            hint="check the path; orders files are JSON Lines, one order per line",
        )
    from ftpbridge.cli.progress import Progress

    with Progress("Loading orders", unit="bytes") as progress:
        result = load_orders(
            state.store, file, list(state.settings.partners.values()), progress=progress
        )
    summary = result.summary
    click.echo(
        f"Loaded {plural(result.orders, 'order')} ({summary.orders_new:,} new,"
        f" {summary.orders_updated:,} updated) with {plural(result.items, 'item')}"
        f" ({summary.items_new:,} new, {summary.items_updated:,} updated,"
        f" {summary.items_kept_shipped:,} already shipped and kept)."
    )
    for partner, count in sorted(result.routed.items()):
        click.echo(f"  {plural(count, 'item')} routed to {partner}")
    if result.unrouted:
        click.echo(
            f"Warning: {plural(result.unrouted, 'item')} match no partner's skus and there is"
            " no default partner: no partner will receive them (they are loaded, and never"
            " exported).",
            err=True,
        )
        click.echo(
            "Try: add 'skus' or 'default = true' to a partner, then load the file again",
            err=True,
        )
        sys.exit(EXIT_ATTENTION)


FILTERS_HELP = (
    "Which items: pending (loaded, not exported yet), acknowledged (exported or read over"
    " the API, waiting to ship), not_shipped (pending or acknowledged), past_due (not"
    " shipped, ordered more than the partner's past_due_days ago), shipped, cancelled, all."
)


@orders.command("list")
@click.option("--partner", default=None, help="Only this partner's items.")
@click.option(
    "--filter",
    "status_filter",
    type=Choice(
        ["all", "pending", "acknowledged", "not_shipped", "shipped", "cancelled", "past_due"]
    ),
    default="not_shipped",
    show_default=True,
    help=FILTERS_HELP,
)
@click.option(
    "--format",
    "output_format",
    type=Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="At most this many items (it says so when there are more).",
)
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
        limit=None if limit is None else limit + 1,
    )
    more = limit is not None and len(rows) > limit
    if more:
        rows = rows[:limit]
    render_items(rows, output_format, sys.stdout)
    if more:
        click.echo(
            f"Only the first {plural(len(rows), 'item')} are shown: more match. Raise --limit,"
            " or narrow with --partner or --filter.",
            err=True,
        )


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this UID (a container)
        return "unknown user"


def _change_status(
    state: Context, items: tuple[str, ...], status: str, *, command: str, reason: str | None
) -> None:
    from ftpbridge.files.events import for_status_by_hand
    from ftpbridge.store.engine import utcnow
    from ftpbridge.store.manual import set_status

    source = f"ftpbridge orders {command} by {_who()}" + (f": {reason}" if reason else "")
    with state.existing_store.begin() as connection:
        changes = set_status(
            connection,
            items,
            status,
            source=source[:300],
            now=utcnow(),
            only_shipped=command == "unship",
            notify=for_status_by_hand(state.settings.notify),
        )
    for change in changes:
        if change.after is None:
            click.echo(f"item {change.item_id} (order {change.order_id}): already {change.before}")
            continue
        line = f"item {change.item_id} (order {change.order_id}): {change.before} -> {change.after}"
        if change.shipment is not None:
            date, carrier, tracking = change.shipment
            line += f" (its shipment {carrier} {tracking} of {date} is removed)"
        click.echo(line)
    changed = sum(change.after is not None for change in changes)
    if changed:
        click.echo(
            f"Changed {plural(changed, 'item')}; recorded in the audit trail as {source!r}."
            + (
                " Items pending or acknowledged go in the next export again."
                if status != "cancelled"
                else ""
            )
        )


@orders.command("set-status")
@click.argument("items", nargs=-1, required=True)
@click.option(
    "--status",
    type=Choice(["pending", "acknowledged", "cancelled"]),
    required=True,
    help="The new status (shipped is set by an updated file or the Orders API).",
)
@click.option("--reason", default=None, help="Why, kept in the audit trail with your name.")
@pass_state
@friendly_errors
def orders_set_status(
    state: Context, items: tuple[str, ...], status: str, reason: str | None
) -> None:
    """Set the status of ITEMS (item ids) by hand, audited: e.g. cancel an item, or send a
    shipped one again (pending). Leaving shipped removes its shipment details."""
    _change_status(state, items, status, command="set-status", reason=reason)


@orders.command("unship")
@click.argument("items", nargs=-1, required=True)
@click.option("--reason", default=None, help="Why, kept in the audit trail with your name.")
@pass_state
@friendly_errors
def orders_unship(state: Context, items: tuple[str, ...], reason: str | None) -> None:
    """Undo the shipment of ITEMS (shipped item ids), audited: they become pending, their
    shipment details are removed, and they go in the next export again."""
    _change_status(state, items, "pending", command="unship", reason=reason)
