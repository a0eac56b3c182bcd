"""Row validation of an updated file: a list of small rules, vectorised (no Python loop
over rows).

Given one chunk of the file (text columns, see :func:`ftpbridge.files.reading.iter_chunks`)
and the store's state of the items it names, :func:`validate` decides for every row an
outcome (``applied``, ``unchanged`` or ``rejected``) with a reason a person can act on.
The rules are in :data:`RULES`, in the order they apply: each takes the chunk's
:class:`~ftpbridge.files.rows.Rows` and yields its verdicts, and the first outcome given
to a row is its outcome. A shipped row's fields are checked by :data:`FIELD_CHECKS`, all
of them, so that every problem of a row is reported at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import pandas as pd

from ftpbridge.carriers import accepted_carriers_text
from ftpbridge.files.rows import (
    EXCEL_SERIAL,
    TRACKING_MAX,
    Rows,
    Terms,
    cut,
    day_text,
    filled,
    per_distinct,
    quoted,
    text_column,
)
from ftpbridge.files.verdicts import NOTE, Verdict, Verdicts, append_reason
from ftpbridge.textarrays import strip
from ftpbridge.wording import format_example

APPLIED, UNCHANGED, REJECTED = "applied", "unchanged", "rejected"

__all__ = [
    "APPLIED",
    "REJECTED",
    "RULES",
    "UNCHANGED",
    "Decisions",
    "Terms",
    "Verdict",
    "decide",
    "validate",
]


Rule = Callable[[Rows], Iterator[Verdict]]


# ---------------------------------------------------------------------------- the rules
# Each takes the rows and yields its verdicts; validate() applies them in the order of
# RULES, and the first outcome given to a row is its outcome.


def conflicting_rows(rows: Rows) -> Iterator[Verdict]:
    """The same item on several rows with different values: rejected, naming the rows."""
    if "conflicts_with" in rows.chunk:
        conflicts = text_column(rows.chunk, "conflicts_with")
        yield Verdict(
            conflicts != "",
            REJECTED,
            lambda at: (
                "the same item appears with different values on rows "
                + conflicts[at]
                + "; send it once"
            ),
        )


def duplicate_rows(rows: Rows) -> Iterator[Verdict]:
    """A row identical to an earlier one: unchanged, naming the earlier row."""
    if "duplicate_of" in rows.chunk:
        duplicate_of = rows.chunk["duplicate_of"].to_numpy(dtype=np.int64)
        yield Verdict(
            duplicate_of > 0,
            UNCHANGED,
            lambda at: "duplicate of row " + duplicate_of[at].astype(str).astype(object),
        )


def ids_present(rows: Rows) -> Iterator[Verdict]:
    """order_id and item_id are filled in."""
    yield Verdict(rows.order_id == "", REJECTED, "order_id is empty")
    yield Verdict(rows.item_id == "", REJECTED, "item_id is empty")


def shipped_spelled(rows: Rows) -> Iterator[Verdict]:
    """shipped is one of the contract's spellings. Empty means "not shipped" only on an
    untouched row: with a date, carrier or tracking number filled in, the fulfiller most
    likely forgot to say so."""
    yield Verdict(
        (rows.shipped_cell == "") & rows.others_filled,
        REJECTED,
        "shipped is empty but shipped_date, carrier or tracking_number is filled in;"
        " write true if the item shipped, false if not",
    )
    shipped_cell = rows.shipped_cell
    yield Verdict(
        pd.isna(rows.shipped_meaning),
        REJECTED,
        lambda at: (
            "shipped is "
            + quoted(shipped_cell[at])
            + "; write true or false (yes/no, 1/0 also work)"
        ),
    )


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


def shipment_fields(rows: Rows) -> Iterator[Verdict]:
    """A shipped row: shipped_date, carrier and tracking_number are checked field by field
    (FIELD_CHECKS), and every problem of the row is reported at once."""
    problems = np.full(rows.size, "", dtype=object)
    for check in FIELD_CHECKS:
        for verdict in check(rows):
            append_reason(problems, verdict.rows, verdict.reason)
    yield Verdict(problems != "", REJECTED, lambda at: problems[at])


def tracking_warning(rows: Rows) -> Iterator[Verdict]:
    """A tracking number that does not look like its carrier's: a note, not a refusal."""
    warning = rows.tracking_check[1]
    yield Verdict(rows.checkable & (warning != ""), NOTE, lambda at: warning[at])


def same_as_stored(rows: Rows) -> Iterator[Verdict]:
    """Already shipped with exactly these details: unchanged."""
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
    stored_date = rows.stored_date
    yield Verdict(
        rows.was_shipped,
        APPLIED,
        lambda at: "correction of the shipment recorded on " + day_text(stored_date[at]),
    )


def shipped(rows: Rows) -> Iterator[Verdict]:
    """Everything left: a new shipment, applied."""
    yield Verdict(np.ones(rows.size, dtype=bool), APPLIED, "shipped")


# ---------------------------------------------------------------- checks of a shipped row


def shipped_date_checks(rows: Rows) -> Iterator[Verdict]:
    """shipped_date: present, a date in an accepted format (not a spreadsheet serial),
    not in the future, not before the order."""
    date_text, dates = rows.date_text, rows.dates
    no_date = np.isnat(dates)
    yield Verdict(date_text == "", REJECTED, "shipped_date is empty; it is required when shipped")
    serial = per_distinct(
        date_text, lambda texts: np.asarray(texts.str.fullmatch(EXCEL_SERIAL), dtype=bool)
    ).astype(bool)
    yield Verdict(
        serial & no_date,
        REJECTED,
        lambda at: (
            "shipped_date " + date_text[at] + " is a spreadsheet serial number, not a date;"
            " format the column as a date (YYYY-MM-DD)"
        ),
    )
    accepted = ", ".join(["YYYY-MM-DD", *map(format_example, rows.terms.date_formats)])
    yield Verdict(
        (date_text != "") & ~serial & no_date,
        REJECTED,
        lambda at: (
            "shipped_date "
            + quoted(date_text[at])
            + " is not a date in an accepted format ("
            + accepted
            + ")"
        ),
    )
    yield Verdict(
        ~no_date & (dates > np.datetime64(rows.terms.latest_date, "s")),
        REJECTED,
        lambda at: "shipped_date " + cut(date_text[at], 40) + " is in the future",
    )
    order_day = rows.order_day
    yield Verdict(
        ~no_date & ~np.isnat(order_day) & (dates < order_day),
        REJECTED,
        lambda at: (
            "shipped_date "
            + cut(date_text[at], 40)
            + " is before the order date "
            + day_text(order_day[at])
        ),
    )


def carrier_checks(rows: Rows) -> Iterator[Verdict]:
    """carrier: present and one we know (by any of its spellings)."""
    carrier_text = rows.carrier_text
    yield Verdict(carrier_text == "", REJECTED, "carrier is empty; it is required when shipped")
    yield Verdict(
        (carrier_text != "") & pd.isna(rows.carrier_names),
        REJECTED,
        lambda at: (
            "carrier "
            + quoted(carrier_text[at])
            + " is unknown (accepted: "
            + accepted_carriers_text()
            + ")"
        ),
    )


def tracking_checks(rows: Rows) -> Iterator[Verdict]:
    """tracking_number: present, not mangled by a spreadsheet, not too long, in a format
    of its carrier where the carrier's formats say it cannot be right."""
    tracking_text = rows.tracking_text
    yield Verdict(
        rows.tracking == "", REJECTED, "tracking_number is empty; it is required when shipped"
    )
    yield Verdict(
        rows.scientific,
        REJECTED,
        lambda at: (
            "tracking_number "
            + cut(tracking_text[at], 40)
            + " was damaged by a spreadsheet (scientific notation); format the column as"
            " text and type the number again"
        ),
    )
    yield Verdict(
        rows.too_long & ~rows.scientific,
        REJECTED,
        f"tracking_number is longer than {TRACKING_MAX} characters",
    )
    error = rows.tracking_check[0]
    yield Verdict(rows.checkable & (error != ""), REJECTED, lambda at: error[at])


FIELD_CHECKS: tuple[Rule, ...] = (shipped_date_checks, carrier_checks, tracking_checks)

RULES: tuple[Rule, ...] = (
    conflicting_rows,  # rejected: the same item with other values on another row
    duplicate_rows,  # unchanged: the same row again
    ids_present,  # rejected: no order_id or item_id
    shipped_spelled,  # rejected: shipped empty beside filled fields, or an unknown spelling
    item_known,  # rejected: no such item, another order's, another partner's
    not_shipped,  # unchanged (rejected if it would un-ship)
    not_cancelled,  # rejected: the shop cancelled it
    shipment_fields,  # rejected: every problem of shipped_date, carrier, tracking_number
    tracking_warning,  # a note: the tracking number does not look like its carrier's
    same_as_stored,  # unchanged: already shipped with these details
    edit_window,  # rejected: shipped too long ago to change
    correction,  # applied: a change to a recorded shipment
    shipped,  # applied
)


class Decisions(NamedTuple):
    """What :func:`decide` says about each row of a chunk, as numpy arrays in row order:
    the outcome, its reason (with the row's warnings), the warnings alone ("" where none: a
    row applied anyway), and the normalised new values (new_shipped_date as YYYY-MM-DD
    text, new_carrier, new_tracking_number)."""

    outcome: np.ndarray
    reason: np.ndarray
    warning: np.ndarray
    new_shipped_date: np.ndarray
    new_carrier: np.ndarray
    new_tracking_number: np.ndarray


def decide(
    chunk: pd.DataFrame, state: pd.DataFrame, terms: Terms, *, positions: np.ndarray | None = None
) -> Decisions:
    """Decide every row of ``chunk`` by RULES, in order; the first outcome for a row wins.
    ``chunk`` and ``state`` as :func:`validate` takes them; the answers as arrays.
    ``positions``: each row's item's place in ``state`` (-1: unknown), when the caller
    has found them already."""
    rows = Rows(chunk, state, terms, positions)
    verdicts = Verdicts(rows.size)
    for rule in RULES:
        for verdict in rule(rows):
            verdicts.apply(verdict)
    outcome, reason = verdicts.finished()
    warning = strip(verdicts.note, "; ")
    return Decisions(outcome, reason, warning, rows.ship_day, rows.carriers, rows.tracking)


def validate(chunk: pd.DataFrame, state: pd.DataFrame, terms: Terms) -> pd.DataFrame:
    """Decide every row of ``chunk`` by RULES, in order; the first outcome for a row wins.

    ``chunk``: columns order_id, item_id, shipped, shipped_date, carrier, tracking_number,
    row (stripped text), plus optional ``duplicate_of`` (row number of an identical earlier
    row, 0 if none) and ``conflicts_with`` (text naming the conflicting rows, "" if none).
    ``state``: the store's items named in the chunk, indexed by item_id, with columns
    order_id, partner, status, shipped_date (date or None), carrier, tracking_number,
    order_created_at (aware datetime).

    Returns the chunk with columns outcome, reason (with the row's warnings), warning (the
    warnings alone, "" where none: a row applied anyway), and the normalised new values
    new_shipped_date (YYYY-MM-DD text), new_carrier, new_tracking_number (see
    :func:`decide` for the same answers as arrays).
    """
    decisions = decide(chunk, state, terms)
    result = chunk.copy()
    for name, values in zip(Decisions._fields, decisions, strict=True):
        result[name] = values
    return result
