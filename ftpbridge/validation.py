"""Row validation of an updated file, vectorised: no Python loop over rows.

Given one chunk of the file (text columns, see :func:`ftpbridge.csvread.iter_chunks`) and
the store's state of the items it names, decide for every row an outcome — ``applied``,
``unchanged`` or ``rejected`` — with a reason a person can act on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftpbridge.carriers import (
    canonical_carrier,
    carrier_aliases_text,
    check_tracking,
    looks_scientific,
    normalise_tracking,
)

APPLIED, UNCHANGED, REJECTED = "applied", "unchanged", "rejected"

TRUE_WORDS = ("true", "yes", "y", "1", "shipped", "t", "x")
FALSE_WORDS = ("false", "no", "n", "0", "pending", "f", "")
_SHIPPED = {word: True for word in TRUE_WORDS} | {word: False for word in FALSE_WORDS}
TRACKING_MAX = 40
_ISO = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_EXCEL_SERIAL = r"\d{5}(?:[.,]\d+)?"


@dataclass(frozen=True)
class Rules:
    """What validation needs to know about the partner and the moment."""

    partner: str
    date_formats: tuple[str, ...]
    timezone: str
    today: dt.date  # the partner's local date now
    edit_window_days: int

    @property
    def latest_date(self) -> dt.date:
        return self.today + dt.timedelta(days=1)


class Verdicts:
    """Per-row outcome and reason; the first decision for a row wins, notes accumulate."""

    def __init__(self, index: pd.Index) -> None:
        self.outcome = pd.Series("", index=index, dtype=object)
        self.reason = pd.Series("", index=index, dtype=object)
        self.note = pd.Series("", index=index, dtype=object)

    @property
    def open(self) -> pd.Series:
        return self.outcome == ""

    def decide(self, mask: pd.Series, outcome: str, reason: pd.Series | str) -> None:
        mask = mask & self.open
        if not mask.any():
            return
        self.outcome = self.outcome.mask(mask, outcome)
        self.reason = self.reason.mask(mask, reason)

    def add_note(self, mask: pd.Series, text: pd.Series | str) -> None:
        if not mask.any():
            return
        joined = self.note.where(self.note == "", self.note + "; ") + text
        self.note = self.note.mask(mask, joined)

    def finished(self) -> tuple[pd.Series, pd.Series]:
        reason = self.reason.where(self.note == "", self.reason + "; " + self.note)
        reason = reason.str.strip("; ")
        return self.outcome, reason


def _quoted(values: pd.Series) -> pd.Series:
    return "'" + values + "'"


def _parse_dates(values: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """Text → dates (NaT where none of the formats fits). ISO YYYY-MM-DD always works;
    the partner's formats are tried in order, never guessing day- vs month-first."""
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[s]")
    iso = values.str.fullmatch(_ISO)
    if iso.any():
        parsed = parsed.mask(
            iso, pd.to_datetime(values.where(iso, "").str[:10], format="%Y-%m-%d", errors="coerce")
        )
    for fmt in formats:
        todo = parsed.isna() & (values != "")
        if not todo.any():
            break
        attempt = pd.to_datetime(values.where(todo, ""), format=fmt, errors="coerce")
        parsed = parsed.mask(todo & attempt.notna(), attempt)
    return parsed


def validate(chunk: pd.DataFrame, state: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Decide every row of ``chunk``.

    ``chunk``: columns order_id, item_id, shipped, shipped_date, carrier, tracking_number,
    row (stripped text), plus optional ``duplicate_of`` (row number of an identical earlier
    row, 0 if none) and ``conflicts_with`` (text naming the conflicting rows, "" if none).
    ``state``: the store's items named in the chunk, indexed by item_id, with columns
    order_id, partner, status, shipped_date (date or None), carrier, tracking_number,
    order_created_at (aware datetime).

    Returns the chunk with columns outcome, reason, and the normalised new values
    new_shipped_date (YYYY-MM-DD text), new_carrier, new_tracking_number.
    """
    index = chunk.index
    verdicts = Verdicts(index)
    conflicts = chunk.get("conflicts_with", pd.Series("", index=index))
    duplicate_of = chunk.get("duplicate_of", pd.Series(0, index=index))

    verdicts.decide(
        conflicts != "",
        REJECTED,
        "the same item appears with different values on rows " + conflicts + "; send it once",
    )
    verdicts.decide(duplicate_of > 0, UNCHANGED, "duplicate of row " + duplicate_of.astype(str))
    verdicts.decide(chunk["order_id"] == "", REJECTED, "order_id is empty")
    verdicts.decide(chunk["item_id"] == "", REJECTED, "item_id is empty")

    others_filled = (chunk[["shipped_date", "carrier", "tracking_number"]] != "").any(axis=1)
    # An empty shipped cell means "not shipped" only on an untouched row: with a date,
    # carrier or tracking number filled in, the fulfiller most likely forgot to say so.
    verdicts.decide(
        (chunk["shipped"] == "") & others_filled,
        REJECTED,
        "shipped is empty but shipped_date, carrier or tracking_number is filled in;"
        " write true if the item shipped, false if not",
    )
    shipped_text = chunk["shipped"].str.casefold()
    shipped = shipped_text.map(_SHIPPED)
    verdicts.decide(
        shipped.isna(),
        REJECTED,
        "shipped is "
        + chunk["shipped"].str.slice(0, 40).pipe(_quoted)
        + "; write true or false (yes/no, 1/0 also work)",
    )
    shipped = shipped.fillna(False).astype(bool)

    # Identity: the item must exist, belong to this order and to this partner.
    known = chunk["item_id"].isin(state.index)
    current = state.reindex(chunk["item_id"])
    current.index = index
    verdicts.decide(
        ~known,
        REJECTED,
        "no item "
        + chunk["item_id"].str.slice(0, 64)
        + " in order "
        + chunk["order_id"].str.slice(0, 64)
        + " is known; check order_id and item_id",
    )
    verdicts.decide(
        known & (current["order_id"] != chunk["order_id"]),
        REJECTED,
        "item "
        + chunk["item_id"]
        + " belongs to order "
        + current["order_id"].fillna("")
        + ", not "
        + chunk["order_id"].str.slice(0, 64),
    )
    verdicts.decide(
        known & (current["partner"] != rules.partner),
        REJECTED,
        "item " + chunk["item_id"] + " is not routed to " + rules.partner,
    )
    was_shipped = current["status"] == "shipped"

    # Not shipped.
    verdicts.decide(
        ~shipped & was_shipped,
        REJECTED,
        "the item is already shipped; a file cannot un-ship it (ops can, by hand)",
    )
    verdicts.decide(
        ~shipped & others_filled,
        UNCHANGED,
        "not shipped yet (shipped is false; the other columns were ignored)",
    )
    verdicts.decide(~shipped, UNCHANGED, "not shipped yet")

    verdicts.decide(
        current["status"] == "cancelled",
        REJECTED,
        "the item was cancelled by the shop; do not ship it, or ask the shop",
    )

    # Shipped: every field is checked and every problem of a row is reported at once.
    problems = pd.Series("", index=index, dtype=object)

    def problem(mask: pd.Series, text: pd.Series | str) -> None:
        nonlocal problems
        if mask.any():
            problems = problems.mask(mask, problems.where(problems == "", problems + "; ") + text)

    date_text = chunk["shipped_date"]
    dates = _parse_dates(date_text, rules.date_formats)
    problem(date_text == "", "shipped_date is empty; it is required when shipped")
    serial = date_text.str.fullmatch(_EXCEL_SERIAL)
    problem(
        serial & dates.isna(),
        "shipped_date " + date_text + " is a spreadsheet serial number, not a date;"
        " format the column as a date (YYYY-MM-DD)",
    )
    accepted = ", ".join(["YYYY-MM-DD", *rules.date_formats])
    problem(
        (date_text != "") & ~serial & dates.isna(),
        "shipped_date "
        + date_text.str.slice(0, 40).pipe(_quoted)
        + " is not a date in an accepted format ("
        + accepted
        + ")",
    )
    ship_day = dates.dt.strftime("%Y-%m-%d")
    latest = pd.Timestamp(rules.latest_date)
    problem(
        dates.notna() & (dates > latest),
        "shipped_date " + dates.dt.strftime("%Y-%m-%d").fillna("") + " is in the future",
    )
    order_day = (
        pd.to_datetime(current["order_created_at"], utc=True)
        .dt.tz_convert(rules.timezone)
        .dt.tz_localize(None)
        .dt.normalize()
    )
    problem(
        dates.notna() & order_day.notna() & (dates < order_day),
        "shipped_date "
        + dates.dt.strftime("%Y-%m-%d").fillna("")
        + " is before the order date "
        + order_day.dt.strftime("%Y-%m-%d").fillna(""),
    )

    carriers = canonical_carrier(chunk["carrier"])
    problem(chunk["carrier"] == "", "carrier is empty; it is required when shipped")
    problem(
        (chunk["carrier"] != "") & carriers.isna(),
        "carrier "
        + chunk["carrier"].str.slice(0, 40).pipe(_quoted)
        + " is unknown (accepted: "
        + carrier_aliases_text()
        + ")",
    )
    carriers = carriers.fillna("")

    tracking = normalise_tracking(chunk["tracking_number"])
    problem(tracking == "", "tracking_number is empty; it is required when shipped")
    scientific = looks_scientific(chunk["tracking_number"])
    problem(
        scientific,
        "tracking_number "
        + chunk["tracking_number"].str.slice(0, 40)
        + " was damaged by a spreadsheet (scientific notation); format the column as"
        " text and type the number again",
    )
    too_long = tracking.str.len() > TRACKING_MAX
    problem(
        too_long & ~scientific,
        f"tracking_number is longer than {TRACKING_MAX} characters",
    )
    checkable = (tracking != "") & ~scientific & ~too_long & (carriers != "")
    tracking_error, tracking_warning = check_tracking(
        carriers.where(checkable, ""), tracking.where(checkable, "")
    )
    problem(checkable & (tracking_error != ""), tracking_error)
    verdicts.decide(problems != "", REJECTED, problems)
    verdicts.add_note(checkable & (tracking_warning != "") & verdicts.open, tracking_warning)

    # Against what the store holds.
    stored_date = pd.to_datetime(current["shipped_date"], errors="coerce")
    same = (
        was_shipped
        & (stored_date == dates)
        & (current["carrier"].fillna("") == carriers)
        & (current["tracking_number"].fillna("") == tracking)
    )
    verdicts.decide(same, UNCHANGED, "already shipped with these details")
    today = pd.Timestamp(rules.today)
    age_days = (today - stored_date).dt.days
    locked = was_shipped & (age_days >= rules.edit_window_days)
    verdicts.decide(
        locked,
        REJECTED,
        "locked: the item shipped on "
        + stored_date.dt.strftime("%Y-%m-%d").fillna("")
        + f", more than {rules.edit_window_days} days ago; ask the shop to correct it",
    )
    verdicts.decide(
        was_shipped,
        APPLIED,
        "correction of the shipment recorded on " + stored_date.dt.strftime("%Y-%m-%d").fillna(""),
    )
    verdicts.decide(pd.Series(True, index=index), APPLIED, "shipped")

    outcome, reason = verdicts.finished()
    result = chunk.copy()
    result["outcome"] = outcome
    result["reason"] = reason
    result["new_shipped_date"] = ship_day
    result["new_carrier"] = carriers
    result["new_tracking_number"] = tracking
    result["old_status"] = current["status"]
    result["old_shipped_date"] = current["shipped_date"]
    result["old_carrier"] = current["carrier"]
    result["old_tracking_number"] = current["tracking_number"]
    return result


def comparable(chunk: pd.DataFrame) -> pd.DataFrame:
    """The values that say whether two rows for one item agree, each spelled one way:
    shipped as true/false, the carrier by its canonical name, the tracking number
    normalised, the rest case-folded. Unknown spellings stay as written (case-folded), so
    rows that disagree in meaning never compare equal. No loop over rows."""
    shipped_text = chunk["shipped"].str.casefold()
    shipped = shipped_text.map({word: str(value) for word, value in _SHIPPED.items()})
    carrier = canonical_carrier(chunk["carrier"])
    return pd.DataFrame(
        {
            "order_id": chunk["order_id"].str.casefold(),
            "shipped": shipped.fillna(shipped_text),
            "shipped_date": chunk["shipped_date"].str.casefold(),
            "carrier": carrier.fillna(chunk["carrier"].str.casefold()),
            "tracking_number": normalise_tracking(chunk["tracking_number"]),
        },
        index=chunk.index,
    )


def find_duplicates(keys: pd.DataFrame) -> pd.DataFrame:
    """Same item on several rows of one file.

    ``keys``: columns item_id, signature (a hash of the row's values), row. Returns, for
    the rows concerned only, columns row, duplicate_of (the first identical row, 0 for the
    first itself) and conflicts_with ("" or the rows that disagree, e.g. "2, 7").
    """
    repeated = keys[keys["item_id"].duplicated(keep=False) & (keys["item_id"] != "")]
    if repeated.empty:
        return pd.DataFrame({"row": [], "duplicate_of": [], "conflicts_with": []})
    groups = repeated.groupby("item_id", sort=False)
    kinds = groups["signature"].transform("nunique")
    conflicting = repeated[kinds > 1]
    identical = repeated[kinds == 1]
    first_row = identical.groupby("item_id", sort=False)["row"].transform("min")
    duplicates = pd.DataFrame(
        {
            "row": identical["row"].to_numpy(),
            "duplicate_of": np.where(
                identical["row"].to_numpy() == first_row.to_numpy(), 0, first_row.to_numpy()
            ),
            "conflicts_with": "",
        }
    )
    rows_text = conflicting.groupby("item_id", sort=False)["row"].transform(
        lambda rows: ", ".join(map(str, sorted(rows)))
    )
    conflicts = pd.DataFrame(
        {
            "row": conflicting["row"].to_numpy(),
            "duplicate_of": 0,
            "conflicts_with": rows_text.to_numpy(),
        }
    )
    return pd.concat([duplicates, conflicts], ignore_index=True)
