"""Item status changed by hand (``ftpbridge orders set-status`` and ``orders unship``): the
shop's way to correct what a file or the API may not (a file cannot un-ship an item).

Every change goes through :func:`ftpbridge.store.shipments.apply_shipments`, so it is in the
audit trail like any other: one ``item_changes`` row per item, its source naming the
command and who ran it, and the time. Leaving ``shipped`` clears the shipment details
(the old ones stay in the audit trail); the item then goes in the next export again.

A change the shop must hear of writes its webhook event (``Notify``, decided by the caller
from the settings) in the same transaction, as a file's or an API update's do: an item put
back to waiting from shipped or cancelled (``item.reinstated``, what ``unship`` does) and
an item cancelled (``item.cancelled``). Moving an item between pending and acknowledged
tells nobody (an export does the same without an event).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from ftpbridge.errors import UsageError
from ftpbridge.store.items import lookup
from ftpbridge.store.outbox import NOTHING, Notify
from ftpbridge.store.shipments import AuditSource, apply_shipments

SETTABLE = ("pending", "acknowledged", "cancelled")
"""Statuses set by hand. ``shipped`` needs a date, carrier and tracking number checked by
the rules of a file row: a file or the Orders API sets it."""


@dataclass(frozen=True)
class StatusChange:
    """What happened to one item: its status before, after (None: left as it was), and the
    shipment it had (date, carrier, tracking number), which leaving ``shipped`` removed."""

    item_id: str
    order_id: str
    before: str
    after: str | None
    shipment: tuple[str, str, str] | None = None


def set_status(
    connection: Connection,
    item_ids: Sequence[str],
    status: str,
    *,
    source: str,
    now: dt.datetime,
    only_shipped: bool = False,
    notify: Notify = NOTHING,
) -> list[StatusChange]:
    """Give the items ``status`` (one of SETTABLE), in the caller's transaction, audited
    with ``source``; an item already in it is left alone. ``only_shipped`` (``unship``):
    every item must be shipped. ``notify``: the outbox events the changes the shop must
    hear of write (see the module's docstring); e-mails are never written (customers are
    told of shipments only).

    Raises UsageError naming the items that do not exist (or are not shipped, with
    ``only_shipped``), and changes nothing then.
    """
    if status not in SETTABLE:
        raise UsageError(
            f"status {status!r} cannot be set by hand (one of {', '.join(SETTABLE)})",
            hint="a shipment is recorded by an updated file or the Orders API",
        )
    wanted = list(dict.fromkeys(item_ids))
    found = {row[0]: row for row in lookup(connection, wanted)}
    unknown = [item for item in wanted if item not in found]
    if unknown:
        raise UsageError(
            f"no item {', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''} in the"
            " store; nothing was changed",
            hint="ftpbridge orders list --filter all shows the items (item_id column)",
        )
    if only_shipped:
        not_shipped = [item for item in wanted if found[item][3] != "shipped"]
        if not_shipped:
            shown = ", ".join(f"{item} ({found[item][3]})" for item in not_shipped[:10])
            raise UsageError(
                f"not shipped, so nothing to undo: {shown}; nothing was changed",
                hint="ftpbridge orders set-status ITEM --status pending|acknowledged|cancelled",
            )
    changes: list[StatusChange] = []
    told: list[tuple[object, ...]] = []  # changes the shop hears of
    untold: list[tuple[object, ...]] = []
    for item in wanted:
        _id, order_id, _partner, before, shipped_date, carrier, tracking, *_rest = found[item]
        if before == status:
            changes.append(StatusChange(item, order_id, before, None))
            continue
        shipment = None
        if before == "shipped":
            shipment = (str(shipped_date or ""), carrier or "", tracking or "")
        changes.append(StatusChange(item, order_id, before, status, shipment))
        row = (item, status, None, None, None, None)
        (told if _tells_the_shop(before, status) else untold).append(row)
    apply_shipments(connection, untold, AuditSource(None, source), now)
    webhook_only = Notify(webhook=notify.webhook)
    apply_shipments(connection, told, AuditSource(None, source, notify=webhook_only), now)
    return changes


def _tells_the_shop(before: str, after: str) -> bool:
    """Whether an item's change by hand is one the shop hears of: cancelled, or back to
    waiting from shipped or cancelled (not pending <-> acknowledged)."""
    return after == "cancelled" or before in ("shipped", "cancelled")
