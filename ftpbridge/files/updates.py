"""Shipment updates that arrive one item at a time (the Orders API), through the very rules
and apply path of a row of an updated file.

The items of a request become one chunk, a DataFrame with the columns an updated file's
chunk has (order_id, item_id, shipped, shipped_date, carrier, tracking_number, row), and
go through :func:`ftpbridge.files.validation.validate` with the Terms of each item's
partner (its time zone, date formats and ``edit_window_days``: the 15-day lock), then
:func:`ftpbridge.store.shipments.apply_shipments` with the sender as the audit source. One
request is one transaction: if any item is refused, nothing is changed.

What the API leaves out is taken from the store: an item already shipped keeps its date,
carrier and tracking number unless the update gives new ones (a correction); an update
without a status for an item not shipped is a row whose ``shipped`` cell is empty.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ftpbridge.files import events
from ftpbridge.files.rows import nones
from ftpbridge.files.validation import APPLIED, REJECTED, Decisions, Terms, decide
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store
from ftpbridge.store.items import LOOKUP_NAMES, lookup
from ftpbridge.store.limits import statement_deadline
from ftpbridge.store.outbox import add_emails
from ftpbridge.store.shipments import AuditSource, apply_shipments


class ItemUpdate(NamedTuple):
    """One item of an update. ``None``: not sent (the store's value stands). A named
    tuple: a request makes thousands, and a tuple is made and read column-wise (``zip``)
    at a fraction of a frozen dataclass's cost."""

    order_id: str
    item_id: str
    shipped: bool | None
    shipping_date: str | None
    tracking_type: str | None
    tracking_code: str | None


# An ItemUpdate, or the plain tuple of its fields in its order (what the API's parser
# makes: 1,000 named tuples cost a quarter of a millisecond).
Item = tuple[str, str, bool | None, str | None, str | None, str | None]


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
    updates: Sequence[Item],
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
    if not updates:
        return outcome
    # The updates column by column: one object table filled from the flattened tuples
    # and read by columns (views), half the time of six np.array over zip's transposes.
    # Every update is a tuple of ItemUpdate's six fields (parse_update and batch_update
    # make them so): a shorter one would shift the fields after it, not raise.
    width = len(ItemUpdate._fields)
    columns = list(
        np.fromiter(
            itertools.chain.from_iterable(updates), dtype=object, count=len(updates) * width
        )
        .reshape(len(updates), width)
        .T
    )
    order_id, item_id = columns[:2]
    # What was not sent (None), for shipped, shipping_date, tracking_type and
    # tracking_code (the API sends no NaN, so nones(), not pd.isna).
    missing = [nones(column) for column in columns[2:]]
    alone = np.flatnonzero(missing[2] != missing[3])
    for at in alone.tolist():
        outcome.refused.append(
            Refusal(
                order_id[at],
                item_id[at],
                "tracking_type and tracking_code must be sent together",
                unknown=False,
            )
        )
    if outcome.refused:
        return outcome
    with store.begin() as connection, statement_deadline(connection, timeout):
        item_ids = item_id.tolist()
        state = _state(lookup(connection, item_ids, lock=True), scope)
        positions = _positions(state.index, item_ids)
        chunk = _chunk(columns, missing, state, positions)
        decided = _decide(chunk, state, positions, settings, scope, now)
        refused = np.flatnonzero(decided.outcome == REJECTED)
        if refused.size:
            for at in refused.tolist():
                outcome.refused.append(
                    Refusal(
                        order_id[at],
                        item_id[at],
                        in_api_words(decided.reason[at]),
                        unknown=bool(positions[at] < 0),
                    )
                )
            return outcome  # the block ends without a change: nothing was written
        applied = np.flatnonzero(decided.outcome == APPLIED)
        outcome.modified = applied.size
        outcome.unchanged = len(updates) - applied.size
        if applied.size:
            changes = list(
                zip(
                    item_id[applied].tolist(),
                    itertools.repeat("shipped"),
                    decided.new_shipped_date[applied].tolist(),
                    decided.new_carrier[applied].tolist(),
                    decided.new_tracking_number[applied].tolist(),
                    (applied + 1).tolist(),  # the item's row: its place in the update
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


def _state(found: list[tuple[Any, ...]], scope: str | None) -> pd.DataFrame:
    """The store's state of the items (tuples in LOOKUP_NAMES order) as validation takes
    it, indexed by item_id, partner "" where none; only ``scope``'s items when given."""
    # fromiter over the flattened rows: half the time of np.array(found), which inspects
    # every tuple for nesting.
    table = np.fromiter(
        itertools.chain.from_iterable(found), dtype=object, count=len(found) * len(LOOKUP_NAMES)
    ).reshape(len(found), len(LOOKUP_NAMES))
    partner = table[:, LOOKUP_NAMES.index("partner")]
    partner[nones(partner)] = ""  # (the driver's NULL; pd.isna: twice the time)
    if scope is not None:
        in_scope = partner == scope
        if not in_scope.all():  # (a copy of the table only when some item is not the scope's)
            table = table[in_scope]
    return pd.DataFrame(
        table[:, 1:],
        index=pd.Index(table[:, 0], dtype=object, name=LOOKUP_NAMES[0]),
        columns=list(LOOKUP_NAMES[1:]),
        dtype=object,
        copy=False,
    )


def _positions(index: pd.Index, item_ids: list[str]) -> np.ndarray:
    """Each item's row in ``index`` (-1: unknown, or out of scope). A dict made and read
    in C (dict, zip, map): get_indexer took twice the time, building pandas' own hash
    table of the index for this one look-up."""
    places = dict(zip(index.tolist(), range(len(index)), strict=True))
    return np.fromiter(
        map(places.get, item_ids, itertools.repeat(-1)), dtype=np.intp, count=len(item_ids)
    )


CHUNK_COLUMNS = ("order_id", "item_id", "shipped", "shipped_date", "carrier", "tracking_number")


_SHIPPED_WORDS = np.array(["", "true", "false"], dtype=object)


def _chunk(
    columns: list[np.ndarray], missing: list[np.ndarray], state: pd.DataFrame, positions: np.ndarray
) -> pd.DataFrame:
    """The updates (``columns`` as ItemUpdate has them; ``missing``: where the last four
    were not sent) as an updated file's chunk, what was not sent filled from the store;
    ``positions``: each item's row in ``state``."""
    order_id, item_id, shipped_sent, date_sent, type_sent, code_sent = columns
    known = positions >= 0
    was_shipped = np.zeros(len(item_id), dtype=bool)
    was_shipped[known] = state["status"].to_numpy(dtype=object)[positions[known]] == "shipped"

    def sent(given: np.ndarray, not_sent: np.ndarray, stored_column: str) -> np.ndarray:
        """What was sent; for an item already shipped, what the store holds where nothing
        was sent; "" elsewhere."""
        result = np.where(not_sent, "", given)
        keep = np.flatnonzero(not_sent & was_shipped)
        if keep.size:
            stored = state[stored_column].iloc[positions[keep]]
            if stored_column == "shipped_date":  # a date (PostgreSQL) or its text (SQLite)
                stored = pd.to_datetime(stored, errors="coerce").dt.strftime("%Y-%m-%d")
            result[keep] = stored.fillna("").to_numpy(dtype=object)
        return result

    # The words picked from one object array: np.where on the texts made fixed-width
    # strings, each turned back into a new str object in the table.
    shipped = _SHIPPED_WORDS[
        np.where(missing[0], was_shipped, np.where(np.equal(shipped_sent, True), 1, 2))
    ]
    table = np.empty((len(item_id), len(CHUNK_COLUMNS) + 1), dtype=object)
    table[:, 0] = order_id
    table[:, 1] = item_id
    table[:, 2] = shipped
    table[:, 3] = sent(date_sent, missing[1], "shipped_date")
    table[:, 4] = sent(type_sent, missing[2], "carrier")
    table[:, 5] = sent(code_sent, missing[3], "tracking_number")
    table[:, 6] = range(1, len(item_id) + 1)
    return pd.DataFrame(table, columns=[*CHUNK_COLUMNS, "row"], dtype=object, copy=False)


def _decide(
    chunk: pd.DataFrame,
    state: pd.DataFrame,
    positions: np.ndarray,
    settings: Settings,
    scope: str | None,
    now: dt.datetime,
) -> Decisions:
    """decide() per partner of the items (each with its partner's rules); unknown items
    with the scope's (they are refused as unknown whichever rules see them)."""
    if scope is not None:
        # The state holds the scope's items only (see _state), and the unknown items take
        # the scope's rules: one partner's, and the places found hold.
        return decide(chunk, state, _rules(settings, scope or None, now), positions=positions)
    known = positions >= 0
    partner_of = np.full(len(chunk), "", dtype=object)
    partner_of[known] = state["partner"].to_numpy(dtype=object)[positions[known]]
    if (partner_of == partner_of[0]).all():  # one partner's items (a third of pd.unique)
        partner = str(partner_of[0])
        return decide(
            chunk, state[state["partner"] == partner], _rules(settings, partner or None, now)
        )
    answers = [np.empty(len(chunk), dtype=object) for _field in Decisions._fields]
    for partner in pd.unique(partner_of).tolist():
        rows = np.flatnonzero(partner_of == partner)
        part = decide(
            chunk.iloc[rows],
            state[state["partner"] == partner],
            _rules(settings, partner or None, now),
        )
        for answer, values in zip(answers, part, strict=True):
            answer[rows] = values
    return Decisions(*answers)
