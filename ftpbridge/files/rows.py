"""The rows of one chunk of an updated file, as the validation rules read them.

:class:`Rows` holds a chunk's text columns and the store's state of its items as numpy
arrays, and computes what the rules derive from them (the shipped meaning, parsed dates,
canonical carriers, normalised tracking numbers, the carrier's format check ...) once,
when a rule first asks. The helpers below turn a column's distinct values, not its rows,
into answers: files hold a handful of spellings of shipped and of dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ftpbridge.carriers import (
    canonical_carrier,
    check_tracking,
    looks_scientific,
    normalise_tracking,
)
from ftpbridge.textarrays import lengths

# Exactly the spellings the contract names (issue 2), in any case: anything else is
# refused rather than guessed ("x" or "t" could mean anything in someone's sheet).
TRUE_WORDS = ("true", "yes", "y", "1", "shipped")
FALSE_WORDS = ("false", "no", "n", "0", "pending", "")
SHIPPED = {word: True for word in TRUE_WORDS} | {word: False for word in FALSE_WORDS}
TRACKING_MAX = 40
_ISO = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
EXCEL_SERIAL = r"\d{5}(?:[.,]\d+)?"


@dataclass(frozen=True)
class Terms:
    """What validation needs to know about the partner and the moment: the partner's
    name, date formats, time zone and edit window, and its local date today."""

    partner: str
    date_formats: tuple[str, ...]
    timezone: str
    today: dt.date  # the partner's local date now
    edit_window_days: int

    @property
    def latest_date(self) -> dt.date:
        return self.today + dt.timedelta(days=1)


def quoted(values: np.ndarray, limit: int = 40) -> np.ndarray:
    """Values cut to ``limit`` characters, in quotes (only ever for the rows quoted)."""
    return np.array(["'" + value[:limit] + "'" for value in values], dtype=object)


def cut(values: np.ndarray, limit: int = 64) -> np.ndarray:
    return np.array([value[:limit] for value in values], dtype=object)


def per_distinct(values: np.ndarray, function: Callable[[pd.Index], Any]) -> np.ndarray:
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
        days: np.ndarray = parsed.dt.normalize().to_numpy(dtype="datetime64[s]")
        return days

    array = values.to_numpy(dtype=object)
    return pd.Series(per_distinct(array, parse), index=values.index, dtype="datetime64[s]")


def day_text(dates: np.ndarray) -> np.ndarray:
    """datetime64 → YYYY-MM-DD text ("" for NaT), formatted once per distinct day."""
    days = dates.astype("datetime64[D]")
    text = np.datetime_as_string(days, unit="D").astype(object)
    text[np.isnat(days)] = ""
    return text


def text_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype=object)


class Rows:
    """One chunk of a file and the store's state of its items, as numpy columns; what the
    rules derive from them is computed once, when a rule first asks (``cached_property``).

    Works on numpy arrays (comparing pandas' str columns cost a third of the time)."""

    def __init__(self, chunk: pd.DataFrame, state: pd.DataFrame, terms: Terms) -> None:
        self.chunk, self.state, self.terms = chunk, state, terms
        self.size = len(chunk)
        self.order_id = text_column(chunk, "order_id")
        self.item_id = text_column(chunk, "item_id")
        self.shipped_cell = text_column(chunk, "shipped")
        self.date_text = text_column(chunk, "shipped_date")
        self.carrier_text = text_column(chunk, "carrier")
        self.tracking_text = text_column(chunk, "tracking_number")

    @cached_property
    def others_filled(self) -> np.ndarray:
        """shipped_date, carrier or tracking_number filled in."""
        filled: np.ndarray = (
            (self.date_text != "") | (self.carrier_text != "") | (self.tracking_text != "")
        )
        return filled

    @cached_property
    def shipped_meaning(self) -> np.ndarray:
        """True / False per row, None where the spelling is not one of the contract's."""
        return per_distinct(
            self.shipped_cell,
            lambda spellings: np.asarray(spellings.str.casefold().map(SHIPPED), dtype=object),
        )

    @cached_property
    def shipped(self) -> np.ndarray:
        return pd.Series(self.shipped_meaning, dtype=object).fillna(False).to_numpy(dtype=bool)

    @cached_property
    def current(self) -> pd.DataFrame:
        """The store's state of each row's item (all NaN for an unknown item)."""
        current = self.state.reindex(self.chunk["item_id"])
        current.index = self.chunk.index
        return current

    @cached_property
    def known(self) -> np.ndarray:
        return self.chunk["item_id"].isin(self.state.index).to_numpy(dtype=bool)

    @cached_property
    def current_status(self) -> np.ndarray:
        return self.current["status"].to_numpy(dtype=object)

    @cached_property
    def was_shipped(self) -> np.ndarray:
        shipped: np.ndarray = self.current_status == "shipped"
        return shipped

    @cached_property
    def dates(self) -> np.ndarray:
        """shipped_date as datetime64[s] (NaT where it is not a date in an accepted format)."""
        parsed = _parse_dates(self.chunk["shipped_date"], self.terms.date_formats)
        return parsed.to_numpy(dtype="datetime64[s]")

    @cached_property
    def ship_day(self) -> np.ndarray:
        """shipped_date as YYYY-MM-DD text ("" where it is not a date)."""
        return day_text(self.dates)

    @cached_property
    def carrier_names(self) -> pd.Series:
        return canonical_carrier(self.chunk["carrier"])

    @cached_property
    def carriers(self) -> np.ndarray:
        """The canonical carrier names ("" where unknown)."""
        return self.carrier_names.fillna("").to_numpy(dtype=object)

    @cached_property
    def tracking(self) -> np.ndarray:
        """The tracking numbers, normalised (spaces and dashes out, upper case)."""
        return normalise_tracking(self.chunk["tracking_number"]).to_numpy(dtype=object)

    @cached_property
    def scientific(self) -> np.ndarray:
        return looks_scientific(self.chunk["tracking_number"]).to_numpy(dtype=bool)

    @cached_property
    def too_long(self) -> np.ndarray:
        return lengths(self.tracking) > TRACKING_MAX

    @cached_property
    def checkable(self) -> np.ndarray:
        """Tracking numbers worth checking against their carrier's formats."""
        checkable: np.ndarray = (
            (self.tracking != "") & ~self.scientific & ~self.too_long & (self.carriers != "")
        )
        return checkable

    @cached_property
    def tracking_check(self) -> tuple[np.ndarray, np.ndarray]:
        """(error, warning) texts of the carrier's format check, "" where none."""
        index = self.chunk.index
        error, warning = check_tracking(
            pd.Series(np.where(self.checkable, self.carriers, ""), index=index, dtype="str"),
            pd.Series(np.where(self.checkable, self.tracking, ""), index=index, dtype="str"),
        )
        return error.to_numpy(dtype=object), warning.to_numpy(dtype=object)

    @cached_property
    def stored_date(self) -> np.ndarray:
        """The shipped_date the store holds, datetime64[s] (NaT where none)."""
        stored = pd.to_datetime(self.current["shipped_date"], errors="coerce")
        return stored.to_numpy(dtype="datetime64[s]")
