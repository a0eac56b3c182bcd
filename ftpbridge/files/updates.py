"""Shipment updates that arrive one item at a time (the Orders API), through the very rules
and apply path of a row of an updated file.

The items of a request become one chunk, a DataFrame with the columns an updated file's
chunk has (order_id, item_id, shipped, shipped_date, carrier, tracking_number, row), and
go through :func:`ftpbridge.files.validation.validate` with the Terms of each item's
partner (its time zone, date formats and ``edit_window_days``: the 15-day lock), then
:func:`ftpbridge.store.items.apply_shipments` with the sender as the audit source. One
request is one transaction: if any item is refused, nothing is changed.

What the API leaves out is taken from the store: an item already shipped keeps its date,
carrier and tracking number unless the update gives new ones (a correction); an update
without a status for an item not shipped is a row whose ``shipped`` cell is empty.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ftpbridge.files import events
from ftpbridge.files.validation import APPLIED, REJECTED, Terms, validate
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store
from ftpbridge.store.items import LOOKUP_NAMES, AuditSource, apply_shipments, lookup
from ftpbridge.store.limits import statement_deadline
from ftpbridge.store.outbox import add_emails


@dataclass(frozen=True)
class ItemUpdate:
    """One item of an update. ``None``: not sent (the store's value stands)."""

    order_id: str
    item_id: str
    shipped: bool | None
    shipping_date: str | None
    tracking_type: str | None
    tracking_code: str | None


@dataclass(frozen=True)
class Refusal:
    order_id: str
    item_id: str
    reason: str
    unknown: bool  # no such item (or not in the sender's scope)


@dataclass
class UpdateOutcome:
    items: int
    modified: int = 0
    unchanged: int = 0
    refused: list[Refusal] = field(default_factory=list)
    emails: int = 0  # e-mails to customers queued in the outbox


# The file's column names as the API calls them, in the rules' reasons.
_API_WORDS = (
    (
        re.compile(
            r"shipped is empty but shipped_date, carrier or tracking_number is filled in;"
            r" write true if the item shipped, false if not"
        ),
        "the item is not shipped and the update gives shipping_date, tracking_type or"
        ' tracking_code without "status": "shipped"; send the status with them',
    ),
    (re.compile(r"a file cannot un-ship it"), "an update cannot un-ship it"),
    (re.compile(r"\bshipped_date\b"), "shipping_date"),
    (re.compile(r"\btracking_number\b"), "tracking_code"),
    (re.compile(r"\bcarrier\b(?= is| ')"), "tracking_type"),
)


def in_api_words(reason: str) -> str:
    for pattern, replacement in _API_WORDS:
        reason = pattern.sub(replacement, reason)
    return reason


def _rules(settings: Settings, partner: str | None, now: dt.datetime) -> Terms:
    config = settings.partners.get(partner or "") or PartnerSettings.model_validate(
        {"name": partner or ""}  # a partner no longer configured: the defaults
    )
    return Terms(
        partner=partner or "",
        date_formats=config.date_formats,
        timezone=config.timezone,
        today=now.astimezone(config.zone).date(),
        edit_window_days=config.edit_window_days,
    )


def apply_updates(
    store: Store,
    settings: Settings,
    updates: Sequence[ItemUpdate],
    *,
    scope: str | None,
    source: str,
    email_requested: bool,
    now: dt.datetime,
    timeout: float,
) -> UpdateOutcome:
    """Validate ``updates`` and apply them all, or none (see the module doc).

    ``scope``: the sender's partner (None: every item); an item outside it is refused as
    unknown, exactly like an item that does not exist. Each item at most once (the caller
    checks). Raises StoreError when the store cannot be used.
    """
    outcome = UpdateOutcome(items=len(updates))
    pairs = [(update.tracking_type is None) != (update.tracking_code is None) for update in updates]
    for update, alone in zip(updates, pairs, strict=True):
        if alone:
            outcome.refused.append(
                Refusal(
                    update.order_id,
                    update.item_id,
                    "tracking_type and tracking_code must be sent together",
                    unknown=False,
                )
            )
    if outcome.refused or not updates:
        return outcome
    with store.begin() as connection, statement_deadline(connection, timeout):
        ids = [update.item_id for update in updates]
        state = pd.DataFrame.from_records(
            lookup(connection, ids, lock=True), columns=list(LOOKUP_NAMES)
        )
        if scope is not None:
            state = state[state["partner"] == scope]
        state = state.set_index("item_id")
        chunk = _chunk(updates, state)
        decided = _decide(chunk, state, settings, scope, now)
        refused = decided["outcome"].to_numpy() == REJECTED
        if refused.any():
            known = decided["item_id"].isin(state.index).to_numpy(dtype=bool)
            for order_id, item_id, reason, is_known in zip(
                decided["order_id"].to_numpy()[refused],
                decided["item_id"].to_numpy()[refused],
                decided["reason"].to_numpy()[refused],
                known[refused],
                strict=True,
            ):
                outcome.refused.append(
                    Refusal(order_id, item_id, in_api_words(reason), unknown=not is_known)
                )
            return outcome  # the block ends without a change: nothing was written
        applied = decided[decided["outcome"].to_numpy() == APPLIED]
        outcome.modified = len(applied)
        outcome.unchanged = len(decided) - len(applied)
        if not applied.empty:
            changes = list(
                zip(
                    applied["item_id"].tolist(),
                    ["shipped"] * len(applied),
                    applied["new_shipped_date"].tolist(),
                    applied["new_carrier"].tolist(),
                    applied["new_tracking_number"].tolist(),
                    applied["row"].astype("int64").tolist(),
                    strict=True,
                )
            )
            notify = events.for_update(settings, email_requested=email_requested)
            audit = AuditSource(None, source, email_requested, notify=notify)
            apply_shipments(connection, changes, audit, now)
            if notify.email:
                outcome.emails = add_emails(
                    connection, now, source=source, changed_at=now, partners=notify.email_partners
                )
    return outcome


def _chunk(updates: Sequence[ItemUpdate], state: pd.DataFrame) -> pd.DataFrame:
    """The updates as an updated file's chunk, what was not sent filled from the store."""
    item_id = np.array([update.item_id for update in updates], dtype=object)
    current = state.reindex(item_id)
    was_shipped = (current["status"] == "shipped").to_numpy(dtype=bool)
    stored_date = (
        pd.to_datetime(current["shipped_date"], errors="coerce")
        .dt.strftime("%Y-%m-%d")
        .fillna("")
        .to_numpy(dtype=object)
    )
    stored_carrier = current["carrier"].fillna("").to_numpy(dtype=object)
    stored_tracking = current["tracking_number"].fillna("").to_numpy(dtype=object)

    def sent(values: list[str | None], stored: np.ndarray) -> np.ndarray:
        given = np.array(values, dtype=object)
        missing = np.array([value is None for value in values], dtype=bool)
        return np.where(missing & was_shipped, stored, np.where(missing, "", given))

    shipped_sent = [update.shipped for update in updates]
    shipped = np.where(
        np.array([value is None for value in shipped_sent], dtype=bool),
        np.where(was_shipped, "true", ""),
        np.array(["true" if value else "false" for value in shipped_sent], dtype=object),
    )
    return pd.DataFrame(
        {
            "order_id": np.array([update.order_id for update in updates], dtype=object),
            "item_id": item_id,
            "shipped": shipped.astype(object),
            "shipped_date": sent([u.shipping_date for u in updates], stored_date),
            "carrier": sent([u.tracking_type for u in updates], stored_carrier),
            "tracking_number": sent([u.tracking_code for u in updates], stored_tracking),
            "row": np.arange(1, len(updates) + 1, dtype=np.int64),
        },
        dtype=object,
    ).astype({"row": "int64"})


def _decide(
    chunk: pd.DataFrame,
    state: pd.DataFrame,
    settings: Settings,
    scope: str | None,
    now: dt.datetime,
) -> pd.DataFrame:
    """validate() per partner of the items (each with its partner's rules); unknown items
    with the scope's (they are refused as unknown whichever rules see them)."""
    partner_of = state["partner"].reindex(chunk["item_id"]).to_numpy(dtype=object)
    partner_of = np.where(pd.isna(partner_of), scope or "", partner_of)
    decided = []
    for partner in pd.unique(partner_of):
        part = chunk[partner_of == partner]
        rules = _rules(settings, partner or None, now)
        part_state = state[state["partner"].fillna("") == (partner or "")]
        decided.append(
            validate(part, part_state.assign(partner=part_state["partner"].fillna("")), rules)
        )
    return pd.concat(decided).sort_values("row", kind="stable")
