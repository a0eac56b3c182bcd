"""``notify send``, ``notify list``, ``notify retry``: the outbox of shipment events (the
webhook to the shop, e-mails to customers) by hand. ``ftpbridge run`` sends by itself."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from ftpbridge.cli.app import Context, friendly_errors, main, pass_state
from ftpbridge.errors import EXIT_ATTENTION, UsageError


@main.group("notify")
def notify() -> None:
    """Shipment notifications: the outbox sent to the shop's webhook and to customers."""


@notify.command("send")
@click.option("--once", is_flag=True, help="Accepted for cron lines: once is what send does.")
@pass_state
@friendly_errors
def notify_send(state: Context, once: bool) -> None:
    """Deliver every event due now, once, and exit (1 when some failed or are dead)."""
    del once
    from ftpbridge.notify.sender import build_sender

    sender = build_sender(state.store, state.settings.notify)
    try:
        report = sender.send_once()
    finally:
        sender.close()
    parts = [f"Delivered {_count(report.delivered, 'event')}."]
    if report.retrying:
        parts.append(f"{_count(report.retrying, 'event')} will be tried again later.")
    if report.dead:
        parts.append(
            f"{_count(report.dead, 'event')} given up (dead): see ftpbridge notify list --dead."
        )
    click.echo(" ".join(parts))
    for error in report.errors:
        click.echo(f"  {error}")
    if report.retrying or report.dead:
        sys.exit(EXIT_ATTENTION)


def _count(number: int, word: str) -> str:
    return f"{number:,} {word}" + ("" if number == 1 else "s")


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def _row(event: Any) -> dict[str, Any]:
    def iso(value: dt.datetime | None) -> str | None:
        return None if value is None else value.isoformat().replace("+00:00", "Z")

    return {
        "id": event.event_id,
        "channel": event.channel,
        "type": event.type,
        "partner": event.partner,
        "order_id": event.order_id,
        "item_id": event.item_id,
        "recipient": event.recipient,
        "state": event.state,
        "attempts": event.attempts,
        "created_at": iso(event.created_at),
        "next_attempt_at": iso(event.next_attempt_at) if event.state == "pending" else None,
        "last_attempt_at": iso(event.last_attempt_at),
        "last_status": event.last_status,
        "last_error": event.last_error,
        "last_response": event.last_response,
    }


@notify.command("list")
@click.option("--dead", "dead_only", is_flag=True, help="Only the events given up on.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
@pass_state
@friendly_errors
def notify_list(state: Context, dead_only: bool, limit: int, output_format: str) -> None:
    """Events not delivered yet (oldest first), or with --dead the dead ones."""
    from ftpbridge.store import outbox

    with state.existing_store.connect() as connection:
        events = (outbox.dead if dead_only else outbox.pending)(connection, limit=limit)
    rows = [_row(event) for event in events]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No dead events." if dead_only else "Nothing waiting: every event is delivered.")
        return
    headers = ("id", "channel", "type", "order", "item / to", "tries", "when", "last error")
    table = [
        (
            event.event_id,
            event.channel,
            event.type,
            event.order_id,
            event.item_id or event.recipient or "",
            str(event.attempts),
            _when(event.last_attempt_at if dead_only else event.next_attempt_at),
            _short(event.last_error),
        )
        for event in events
    ]
    widths = [max(len(line[column]) for line in (headers, *table)) for column in range(8)]
    for line in (headers, *table):
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    if not dead_only:
        click.echo("when: the next attempt", err=True)


def _short(text: str | None, limit: int = 70) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@notify.command("retry")
@click.argument("event_id", required=False)
@click.option("--all-dead", is_flag=True, help="Every dead event.")
@pass_state
@friendly_errors
def notify_retry(state: Context, event_id: str | None, all_dead: bool) -> None:
    """Send EVENT_ID (an id from notify list, or its first 8+ characters) again, or
    --all-dead; the next send (or the running service) delivers them."""
    from ftpbridge.store import outbox
    from ftpbridge.store.engine import utcnow

    if (event_id is None) == (not all_dead):
        raise UsageError(
            "give one event id or --all-dead",
            hint="ftpbridge notify list --dead shows the dead events and their ids",
        )
    with state.existing_store.begin() as connection:  # no store: no event to send again
        if all_dead:
            changed = outbox.retry(connection, None, utcnow())
            click.echo(f"{_count(changed, 'dead event')} will be sent again.")
            return
        event = outbox.find(connection, event_id or "")
        outbox.retry(connection, [event.event_id], utcnow())
    earlier = {
        "dead": "it was dead",
        "delivered": f"it was delivered {_when(event.delivered_at)}; the receiver gets it twice",
        "pending": "it was waiting; now it is due",
    }[event.state]
    click.echo(f"Event {event.event_id} will be sent again ({earlier}).")
