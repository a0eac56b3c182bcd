"""The rules about the item a row names and its state in the store: known, this order's
and this partner's; not shipped (or shipped since); not cancelled; already shipped with
these details; past the edit window; a correction; and, last, a new shipment. Listed in
order in ``validation.RULES``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ftpbridge.files.rows import Rows, cut, day_text, filled
from ftpbridge.files.verdicts import APPLIED, REJECTED, UNCHANGED, Verdict


def item_known(rows: Rows) -> Iterator[Verdict]:
    """The item exists, belongs to this order and is routed to this partner."""
    item_id, order_id, stored_order = rows.item_id, rows.order_id, rows.stored("order_id")
    yield Verdict(
        ~rows.known,
        REJECTED,
        lambda at: (
            "no item "
            + cut(item_id[at])
            + " in order "
            + cut(order_id[at])
            + " is known; check order_id and item_id"
        ),
    )
    yield Verdict(
        rows.known & (stored_order != order_id),
        REJECTED,
        lambda at: (
            "item "
            + item_id[at]
            + " belongs to order "
            + filled(stored_order)[at]
            + ", not "
            + cut(order_id[at])
        ),
    )
    partner = rows.terms.partner
    yield Verdict(
        rows.known & (rows.stored("partner") != partner),
        REJECTED,
        lambda at: "item " + item_id[at] + " is not routed to " + partner,
    )


def not_shipped(rows: Rows) -> Iterator[Verdict]:
    """shipped false: unchanged (the other columns ignored). For an item shipped since,
    a row that asks for no change (false and nothing else filled in: the export it came
    from, sent back late) is unchanged too; one that gives shipment details with false is
    refused: a file cannot un-ship, the shop can by hand (``ftpbridge orders unship``)."""
    if rows.shipped.all():  # every row ships: nothing to say
        return
    yield Verdict(
        ~rows.shipped & rows.was_shipped & ~rows.others_filled,
        UNCHANGED,
        "already shipped since this file was made; the row asks for no change",
    )
    item_id = rows.item_id
    yield Verdict(
        ~rows.shipped & rows.was_shipped,
        REJECTED,
        lambda at: (
            "the item is already shipped; a file cannot un-ship it (the shop can, by hand:"
            " ftpbridge orders unship " + cut(item_id[at]) + ")"
        ),
    )
    yield Verdict(
        ~rows.shipped & rows.others_filled,
        UNCHANGED,
        "not shipped yet (shipped is false; the other columns were ignored)",
    )
    yield Verdict(~rows.shipped, UNCHANGED, "not shipped yet")


def not_cancelled(rows: Rows) -> Iterator[Verdict]:
    """A cancelled item is not to be shipped."""
    yield Verdict(
        rows.current_status == "cancelled",
        REJECTED,
        "the item was cancelled by the shop; do not ship it, or ask the shop",
    )


def same_as_stored(rows: Rows) -> Iterator[Verdict]:
    """Already shipped with exactly these details: unchanged."""
    if not rows.any_was_shipped:
        return
    yield Verdict(
        rows.was_shipped
        & (rows.stored_date == rows.dates)
        & (filled(rows.stored("carrier")) == rows.carriers)
        & (filled(rows.stored("tracking_number")) == rows.tracking),
        UNCHANGED,
        "already shipped with these details",
    )


def edit_window(rows: Rows) -> Iterator[Verdict]:
    """A shipment recorded ``edit_window_days`` or more ago is locked."""
    if not rows.any_was_shipped:
        return
    stored_date, days = rows.stored_date, rows.terms.edit_window_days
    age_days = (np.datetime64(rows.terms.today, "D") - stored_date.astype("datetime64[D]")).astype(
        "int64"
    )
    yield Verdict(
        rows.was_shipped & ~np.isnat(stored_date) & (age_days >= days),
        REJECTED,
        lambda at: (
            "locked: the item shipped on "
            + day_text(stored_date[at])
            + f", more than {days} days ago; ask the shop to correct it"
        ),
    )


def correction(rows: Rows) -> Iterator[Verdict]:
    """A change to a shipment already recorded: applied, saying which."""
    if not rows.any_was_shipped:
        return
    stored_date = rows.stored_date
    yield Verdict(
        rows.was_shipped,
        APPLIED,
        lambda at: "correction of the shipment recorded on " + day_text(stored_date[at]),
    )


def shipped(rows: Rows) -> Iterator[Verdict]:
    """Everything left: a new shipment, applied."""
    yield Verdict(np.ones(rows.size, dtype=bool), APPLIED, "shipped")
