"""Row validation of an updated file, vectorised: no Python loop over rows.

Given one chunk of the file (text columns, see :func:`ftpbridge.files.reading.iter_chunks`) and
the store's state of the items it names, decide for every row an outcome — ``applied``,
``unchanged`` or ``rejected`` — with a reason a person can act on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ftpbridge.carriers import (
    accepted_carriers_text,
    canonical_carrier,
    check_tracking,
    looks_scientific,
    normalise_tracking,
)
from ftpbridge.textarrays import lengths, strip

APPLIED, UNCHANGED, REJECTED = "applied", "unchanged", "rejected"

# Exactly the spellings the contract names (issue 2), in any case: anything else is
# refused rather than guessed ("x" or "t" could mean anything in someone's sheet).
TRUE_WORDS = ("true", "yes", "y", "1", "shipped")
FALSE_WORDS = ("false", "no", "n", "0", "pending", "")
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


# A reason: fixed text, or a function of the rows it is for (positions in the chunk) that
# returns their texts. Texts that quote a row's values are built for those rows only:
# most rows of a file are fine and need none.
Reason = str | Callable[[np.ndarray], np.ndarray]


class Verdicts:
    """Per-row outcome and reason; the first decision for a row wins, notes accumulate.
    Masks are numpy bool arrays over the chunk's rows."""

    def __init__(self, size: int) -> None:
        self.outcome = np.full(size, "", dtype=object)
        self.reason = np.full(size, "", dtype=object)
        self.note = np.full(size, "", dtype=object)
        self.open = np.ones(size, dtype=bool)

    def decide(self, mask: np.ndarray, outcome: str, reason: Reason) -> None:
        rows = np.flatnonzero(mask & self.open)
        if rows.size == 0:
            return
        self.outcome[rows] = outcome
        self.reason[rows] = reason if isinstance(reason, str) else reason(rows)
        self.open[rows] = False

    def add_note(self, mask: np.ndarray, text: Reason) -> None:
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        added = text if isinstance(text, str) else text(rows)
        before = self.note[rows]
        self.note[rows] = np.where(before == "", "", before + "; ") + added

    def finished(self) -> tuple[np.ndarray, np.ndarray]:
        reason = self.reason.copy()
        noted = np.flatnonzero(self.note != "")
        if noted.size:
            reason[noted] = reason[noted] + "; " + self.note[noted]
        return self.outcome, strip(reason, "; ")


class Problems:
    """Every problem of a row, joined with "; " (a shipped row is checked field by field)."""

    def __init__(self, size: int) -> None:
        self.text = np.full(size, "", dtype=object)

    def add(self, mask: np.ndarray, text: Reason) -> None:
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        added = text if isinstance(text, str) else text(rows)
        before = self.text[rows]
        self.text[rows] = np.where(before == "", "", before + "; ") + added


def _quoted(values: np.ndarray, limit: int = 40) -> np.ndarray:
    """Values cut to ``limit`` characters, in quotes (only ever for the rows quoted)."""
    return np.array(["'" + value[:limit] + "'" for value in values], dtype=object)


def _cut(values: np.ndarray, limit: int = 64) -> np.ndarray:
    return np.array([value[:limit] for value in values], dtype=object)


def _per_distinct(values: np.ndarray, function: Callable[[pd.Index], Any]) -> np.ndarray:
    """``function`` of each distinct value, spread back to every row: files hold a handful
    of spellings of shipped and of dates, so the work is per spelling, not per row."""
    codes, uniques = pd.factorize(values)
    answers = np.asarray(function(pd.Index(uniques, dtype=object)))
    if answers.dtype.kind == "M":
        return np.where(codes >= 0, answers[np.maximum(codes, 0)], np.datetime64("NaT"))
    return answers[codes]


def _parse_dates(values: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """Text → dates (NaT where none of the formats fits). ISO YYYY-MM-DD always works;
    the partner's formats are tried in order, never guessing day- vs month-first.
    Each distinct text is parsed once."""

    def parse(texts: pd.Index) -> np.ndarray:
        text = pd.Series(texts, dtype=object).fillna("").astype(str)
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
        iso = text.str.fullmatch(_ISO)
        if iso.any():
            parsed = parsed.mask(
                iso,
                pd.to_datetime(text.where(iso, "").str[:10], format="%Y-%m-%d", errors="coerce"),
            )
        for fmt in formats:
            todo = parsed.isna() & (text != "")
            if not todo.any():
                break
            attempt = pd.to_datetime(text.where(todo, ""), format=fmt, errors="coerce")
            parsed = parsed.mask(todo & attempt.notna(), attempt)
        # A format with a time ("%m/%d/%Y %H:%M") still means a day: cut to the day, so
        # "tomorrow at 10:00" is not in the future and a re-sent row compares equal.
        return parsed.dt.normalize().to_numpy(dtype="datetime64[s]")

    array = values.to_numpy(dtype=object)
    return pd.Series(_per_distinct(array, parse), index=values.index, dtype="datetime64[s]")


def _day_text(dates: np.ndarray) -> np.ndarray:
    """datetime64 → YYYY-MM-DD text ("" for NaT), formatted once per distinct day."""
    days = dates.astype("datetime64[D]")
    text = np.datetime_as_string(days, unit="D").astype(object)
    text[np.isnat(days)] = ""
    return text


def _text(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype=object)


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

    Works on numpy arrays of the columns (comparing pandas' str columns cost a third of
    the time); reasons that quote a row's values are built only for the rows concerned.
    """
    index = chunk.index
    size = len(chunk)
    verdicts = Verdicts(size)
    order_id = _text(chunk, "order_id")
    item_id = _text(chunk, "item_id")
    shipped_cell = _text(chunk, "shipped")
    date_text = _text(chunk, "shipped_date")
    carrier_text = _text(chunk, "carrier")
    tracking_text = _text(chunk, "tracking_number")
    if "conflicts_with" in chunk:
        conflicts = _text(chunk, "conflicts_with")
        verdicts.decide(
            conflicts != "",
            REJECTED,
            lambda rows: (
                "the same item appears with different values on rows "
                + conflicts[rows]
                + "; send it once"
            ),
        )
    if "duplicate_of" in chunk:
        duplicate_of = chunk["duplicate_of"].to_numpy(dtype=np.int64)
        verdicts.decide(
            duplicate_of > 0,
            UNCHANGED,
            lambda rows: "duplicate of row " + duplicate_of[rows].astype(str).astype(object),
        )
    verdicts.decide(order_id == "", REJECTED, "order_id is empty")
    verdicts.decide(item_id == "", REJECTED, "item_id is empty")

    others_filled = (date_text != "") | (carrier_text != "") | (tracking_text != "")
    # An empty shipped cell means "not shipped" only on an untouched row: with a date,
    # carrier or tracking number filled in, the fulfiller most likely forgot to say so.
    verdicts.decide(
        (shipped_cell == "") & others_filled,
        REJECTED,
        "shipped is empty but shipped_date, carrier or tracking_number is filled in;"
        " write true if the item shipped, false if not",
    )
    shipped_meaning = _per_distinct(
        shipped_cell,
        lambda spellings: np.asarray(spellings.str.casefold().map(_SHIPPED), dtype=object),
    )
    verdicts.decide(
        pd.isna(shipped_meaning),
        REJECTED,
        lambda rows: (
            "shipped is "
            + _quoted(shipped_cell[rows])
            + "; write true or false (yes/no, 1/0 also work)"
        ),
    )
    shipped = pd.Series(shipped_meaning, dtype=object).fillna(False).to_numpy(dtype=bool)

    # Identity: the item must exist, belong to this order and to this partner.
    known = chunk["item_id"].isin(state.index).to_numpy(dtype=bool)
    current = state.reindex(chunk["item_id"])
    current.index = index
    current_order = current["order_id"].to_numpy(dtype=object)
    current_status = current["status"].to_numpy(dtype=object)
    verdicts.decide(
        ~known,
        REJECTED,
        lambda rows: (
            "no item "
            + _cut(item_id[rows])
            + " in order "
            + _cut(order_id[rows])
            + " is known; check order_id and item_id"
        ),
    )
    verdicts.decide(
        known & (current_order != order_id),
        REJECTED,
        lambda rows: (
            "item "
            + item_id[rows]
            + " belongs to order "
            + current["order_id"].fillna("").to_numpy(dtype=object)[rows]
            + ", not "
            + _cut(order_id[rows])
        ),
    )
    verdicts.decide(
        known & (current["partner"].to_numpy(dtype=object) != rules.partner),
        REJECTED,
        lambda rows: "item " + item_id[rows] + " is not routed to " + rules.partner,
    )
    was_shipped = current_status == "shipped"

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
        current_status == "cancelled",
        REJECTED,
        "the item was cancelled by the shop; do not ship it, or ask the shop",
    )

    # Shipped: every field is checked and every problem of a row is reported at once.
    problems = Problems(size)
    dates_series = _parse_dates(chunk["shipped_date"], rules.date_formats)
    dates = dates_series.to_numpy(dtype="datetime64[s]")
    no_date = np.isnat(dates)
    ship_day = _day_text(dates)
    problems.add(date_text == "", "shipped_date is empty; it is required when shipped")
    serial = _per_distinct(
        date_text, lambda texts: np.asarray(texts.str.fullmatch(_EXCEL_SERIAL), dtype=bool)
    ).astype(bool)
    problems.add(
        serial & no_date,
        lambda rows: (
            "shipped_date " + date_text[rows] + " is a spreadsheet serial number, not a date;"
            " format the column as a date (YYYY-MM-DD)"
        ),
    )
    accepted = ", ".join(["YYYY-MM-DD", *rules.date_formats])
    problems.add(
        (date_text != "") & ~serial & no_date,
        lambda rows: (
            "shipped_date "
            + _quoted(date_text[rows])
            + " is not a date in an accepted format ("
            + accepted
            + ")"
        ),
    )
    latest = np.datetime64(rules.latest_date, "s")
    problems.add(
        ~no_date & (dates > latest),
        lambda rows: "shipped_date " + ship_day[rows] + " is in the future",
    )
    order_day = (
        pd.to_datetime(current["order_created_at"], utc=True, format="ISO8601")
        .dt.tz_convert(rules.timezone)
        .dt.tz_localize(None)
        .dt.normalize()
        .to_numpy(dtype="datetime64[s]")
    )
    problems.add(
        ~no_date & ~np.isnat(order_day) & (dates < order_day),
        lambda rows: (
            "shipped_date "
            + ship_day[rows]
            + " is before the order date "
            + _day_text(order_day[rows])
        ),
    )

    carrier_names = canonical_carrier(chunk["carrier"])
    unknown_carrier = carrier_names.isna().to_numpy(dtype=bool)
    problems.add(carrier_text == "", "carrier is empty; it is required when shipped")
    problems.add(
        (carrier_text != "") & unknown_carrier,
        lambda rows: (
            "carrier "
            + _quoted(carrier_text[rows])
            + " is unknown (accepted: "
            + accepted_carriers_text()
            + ")"
        ),
    )
    carriers = carrier_names.fillna("").to_numpy(dtype=object)

    tracking = normalise_tracking(chunk["tracking_number"]).to_numpy(dtype=object)
    problems.add(tracking == "", "tracking_number is empty; it is required when shipped")
    scientific = looks_scientific(chunk["tracking_number"]).to_numpy(dtype=bool)
    problems.add(
        scientific,
        lambda rows: (
            "tracking_number "
            + _cut(tracking_text[rows], 40)
            + " was damaged by a spreadsheet (scientific notation); format the column as"
            " text and type the number again"
        ),
    )
    too_long = lengths(tracking) > TRACKING_MAX
    problems.add(
        too_long & ~scientific,
        f"tracking_number is longer than {TRACKING_MAX} characters",
    )
    checkable = (tracking != "") & ~scientific & ~too_long & (carriers != "")
    tracking_error, tracking_warning = check_tracking(
        pd.Series(np.where(checkable, carriers, ""), index=index, dtype="str"),
        pd.Series(np.where(checkable, tracking, ""), index=index, dtype="str"),
    )
    tracking_error = tracking_error.to_numpy(dtype=object)
    tracking_warning = tracking_warning.to_numpy(dtype=object)
    problems.add(checkable & (tracking_error != ""), lambda rows: tracking_error[rows])
    verdicts.decide(problems.text != "", REJECTED, lambda rows: problems.text[rows])
    verdicts.add_note(
        checkable & (tracking_warning != "") & verdicts.open,
        lambda rows: tracking_warning[rows],
    )

    # Against what the store holds.
    stored_date = pd.to_datetime(current["shipped_date"], errors="coerce").to_numpy(
        dtype="datetime64[s]"
    )
    same = (
        was_shipped
        & (stored_date == dates)
        & (current["carrier"].fillna("").to_numpy(dtype=object) == carriers)
        & (current["tracking_number"].fillna("").to_numpy(dtype=object) == tracking)
    )
    verdicts.decide(same, UNCHANGED, "already shipped with these details")
    today = np.datetime64(rules.today, "D")
    age_days = (today - stored_date.astype("datetime64[D]")).astype("int64")
    locked = was_shipped & ~np.isnat(stored_date) & (age_days >= rules.edit_window_days)
    verdicts.decide(
        locked,
        REJECTED,
        lambda rows: (
            "locked: the item shipped on "
            + _day_text(stored_date[rows])
            + f", more than {rules.edit_window_days} days ago; ask the shop to correct it"
        ),
    )
    verdicts.decide(
        was_shipped,
        APPLIED,
        lambda rows: "correction of the shipment recorded on " + _day_text(stored_date[rows]),
    )
    verdicts.decide(np.ones(size, dtype=bool), APPLIED, "shipped")

    outcome, reason = verdicts.finished()
    result = chunk.copy()
    result["outcome"] = outcome
    result["reason"] = reason
    result["new_shipped_date"] = ship_day
    result["new_carrier"] = carriers
    result["new_tracking_number"] = tracking
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
