"""The rows of one chunk of an updated file, as the validation rules read them.

:class:`Rows` holds a chunk's text columns and the store's state of its items as numpy
arrays, and computes what the rules derive from them (the shipped meaning, parsed dates,
canonical carriers, normalised tracking numbers, the carrier's format check ...) once,
when a rule first asks. The helpers below turn a column's distinct values, not its rows,
into answers: files hold a handful of spellings of shipped and of dates.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ftpbridge.carriers import (
    canonical_carriers,
    cleaned_tracking,
    tracking_problems,
)

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


def per_distinct(values: np.ndarray, function: Callable[[np.ndarray], Any]) -> np.ndarray:
    """``function`` of each distinct value (an object array), spread back to every row:
    files hold a handful of spellings of shipped and of dates, so the work is per
    spelling, not per row."""
    codes, uniques = pd.factorize(values)
    answers = np.asarray(function(np.asarray(uniques, dtype=object)))
    if answers.dtype.kind == "M":
        return np.where(codes >= 0, answers[np.maximum(codes, 0)], np.datetime64("NaT"))
    return answers[codes]


# Up to this many distinct texts, ISO dates are read one by one (a few µs in all, where a
# round of pandas calls costs a millisecond: an API update's chunk holds a date or two).
FEW_TEXTS = 1_000


def _parse_texts(texts: pd.Index | np.ndarray, formats: tuple[str, ...]) -> np.ndarray:
    """Distinct texts → datetime64[s] days. A few texts: each ISO date that
    ``date.fromisoformat`` reads (as ``to_datetime(format="%Y-%m-%d")`` does: same day),
    and each empty text (no date), is answered at once; only the others, if any, go
    through :func:`_parse_with_pandas`."""
    if len(texts) > FEW_TEXTS:
        return _parse_with_pandas(pd.Index(texts, dtype=object), formats)
    listed = texts.tolist()
    days = np.full(len(listed), np.datetime64("NaT"), dtype="datetime64[s]")
    others = []
    for position, text in enumerate(listed):
        day = _iso_day(text)
        if day is not None:
            days[position] = day
        elif text != "":
            others.append(position)
    if others:
        days[others] = _parse_with_pandas(pd.Index([listed[at] for at in others]), formats)
    return days


def _iso_day(text: object) -> dt.date | None:
    # Year 0 is refused by date but read by pandas: such a text takes the pandas way.
    if isinstance(text, str) and _ISO_PATTERN.fullmatch(text):
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(text[:10])
    return None


_ISO_PATTERN = re.compile(_ISO)
_EXCEL_SERIAL = re.compile(EXCEL_SERIAL)


def _parse_with_pandas(texts: pd.Index, formats: tuple[str, ...]) -> np.ndarray:
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


def _shipped_meanings(spellings: pd.Index | np.ndarray) -> np.ndarray:
    """True / False for each of the contract's spellings (in any case), None otherwise."""
    return np.array(
        [
            SHIPPED.get(spelling.casefold()) if isinstance(spelling, str) else None
            for spelling in spellings.tolist()
        ],
        dtype=object,
    )


def local_days(times: np.ndarray, timezone: str) -> np.ndarray:
    """Times as the store gives them (naive UTC text on SQLite, aware datetimes on
    PostgreSQL; missing values) → each one's day in ``timezone``, datetime64[s] (NaT where
    missing). A column of SQLite's text (``YYYY-MM-DD HH:MM:SS.ffffff``, checked character
    by character) is read by numpy, in a tenth of the time of
    ``to_datetime(format="ISO8601")``; anything else by pandas."""
    values = np.asarray(times, dtype=object)
    utc: pd.DatetimeIndex | None = None
    if _sqlite_times(values):
        with contextlib.suppress(ValueError):  # a day or an hour out of range
            naive = np.array(values, dtype="datetime64[us]")
            if timezone == "UTC":  # the days as they are: no time zone to convert to
                utc_days: np.ndarray = naive.astype("datetime64[D]").astype("datetime64[s]")
                return utc_days
            utc = pd.DatetimeIndex(naive, tz="UTC")
    if utc is None:
        utc = pd.DatetimeIndex(pd.to_datetime(values, utc=True, format="ISO8601"))
    local = utc.tz_convert(timezone) if timezone != "UTC" else utc  # UTC: nothing to convert
    days: np.ndarray = (
        local.tz_localize(None).to_numpy().astype("datetime64[D]").astype("datetime64[s]")
    )
    return days


# SQLite's text of a time: "0" stands for a digit, anything else for itself.
_SQLITE_TIME = np.array([ord(c) for c in "0000-00-00 00:00:00.000000"], dtype=np.uint32)
_DIGIT_PLACES = _SQLITE_TIME == ord("0")
# Each place's lowest code and how far above it a code may be: "0" and 9 for a digit, the
# character itself and 0 elsewhere; one place more, NUL only (a longer value shows there).
_LOWEST = np.append(_SQLITE_TIME, 0).astype(np.uint32)
_SPAN = np.append(np.where(_DIGIT_PLACES, 9, 0), 0).astype(np.uint32)


def _sqlite_times(values: np.ndarray) -> bool:
    """Whether every value is text in SQLite's shape of a time (no missing value)."""
    if not values.size or pd.api.types.infer_dtype(values, skipna=False) != "string":
        return False
    # Fixed-width text read as code points, one row per value, one place more than the
    # shape (shorter values are padded with NUL, not a digit). A code below its place's
    # lowest wraps round (unsigned) far above the span.
    codes = np.array(values, dtype=f"U{_LOWEST.size}").view(np.uint32).reshape(values.size, -1)
    return bool(((codes - _LOWEST) <= _SPAN).all())


def filled(values: np.ndarray) -> np.ndarray:
    """The values with "" where one is missing (None, NaN)."""
    return np.where(pd.isna(values), "", values)


def day_text(dates: np.ndarray) -> np.ndarray:
    """datetime64 → YYYY-MM-DD text ("" for NaT), formatted once per distinct day."""
    days = dates.astype("datetime64[D]")
    text = np.datetime_as_string(days, unit="D").astype(object)
    text[np.isnat(days)] = ""
    return text


def text_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype=object)


def objects_only(frame: pd.DataFrame) -> bool:
    """Whether every column of ``frame`` is of numpy's object dtype."""
    return all(isinstance(dtype, np.dtype) and dtype.kind == "O" for dtype in frame.dtypes.tolist())


def columns_of(frame: pd.DataFrame, names: Sequence[str]) -> list[np.ndarray]:
    """The columns ``names`` of ``frame`` as numpy object arrays. A frame of object
    columns only (the API's chunk and state: one block) gives them all in one call, views
    of its values (a DataFrame.__getitem__ per column costs ten times as much); any other
    column by column."""
    if objects_only(frame):
        return object_columns(frame, names)
    return [text_column(frame, name) for name in names]


def object_columns(frame: pd.DataFrame, names: Sequence[str]) -> list[np.ndarray]:
    """:func:`columns_of` a frame of object columns only."""
    table = frame.to_numpy(dtype=object)
    places = frame.columns.tolist()
    return [table[:, places.index(name)] for name in names]


_NONE = np.array(None, dtype=object)


def nones(values: np.ndarray) -> np.ndarray:
    """Where an object array holds None, for arrays with no other kind of missing value
    (np.equal on the objects: a tenth of pd.isna's time, which looks for NaN too)."""
    found: np.ndarray = np.equal(values, _NONE)
    return found


TEXT_COLUMNS = ("order_id", "item_id", "shipped", "shipped_date", "carrier", "tracking_number")
# The columns of ``state`` the rules read (its customer is the importer's).
STORED_COLUMNS = (
    "order_id",
    "partner",
    "status",
    "shipped_date",
    "carrier",
    "tracking_number",
    "order_created_at",
)


class Rows:
    """One chunk of a file and the store's state of its items, as numpy columns; what the
    rules derive from them is computed once, when a rule first asks (``cached_property``).

    Works on numpy arrays (comparing pandas' str columns cost a third of the time)."""

    def __init__(
        self,
        chunk: pd.DataFrame,
        state: pd.DataFrame,
        terms: Terms,
        positions: np.ndarray | None = None,
    ) -> None:
        self.chunk, self.state, self.terms = chunk, state, terms
        self._given_positions = positions  # each row's item's place in state, if known
        self.size = len(chunk)
        (
            self.order_id,
            self.item_id,
            self.shipped_cell,
            self.date_text,
            self.carrier_text,
            self.tracking_text,
        ) = columns_of(chunk, TEXT_COLUMNS)
        self._stored: dict[str, np.ndarray] = {}

    @cached_property
    def others_filled(self) -> np.ndarray:
        """shipped_date, carrier or tracking_number filled in."""
        filled: np.ndarray = self.date_given | self.carrier_given | (self.tracking_text != "")
        return filled

    @cached_property
    def date_given(self) -> np.ndarray:
        """shipped_date is filled in."""
        given: np.ndarray = self.date_text != ""
        return given

    @cached_property
    def carrier_given(self) -> np.ndarray:
        """carrier is filled in."""
        given: np.ndarray = self.carrier_text != ""
        return given

    @cached_property
    def shipped_meaning(self) -> np.ndarray:
        """True / False per row, None where the spelling is not one of the contract's."""
        return per_distinct(self.shipped_cell, _shipped_meanings)

    @cached_property
    def shipped_unknown(self) -> np.ndarray:
        """shipped is not one of the contract's spellings (its meaning is None)."""
        return nones(self.shipped_meaning)

    @cached_property
    def shipped(self) -> np.ndarray:
        shipped: np.ndarray = np.equal(self.shipped_meaning, True)  # None, False: not shipped
        return shipped

    @cached_property
    def _positions(self) -> np.ndarray:
        """Each row's item's position in ``state`` (-1 for an unknown item)."""
        if self._given_positions is not None:
            return self._given_positions
        positions: np.ndarray = self.state.index.get_indexer(pd.Index(self.item_id))
        return positions

    def stored(self, column: str) -> np.ndarray:
        """The store's ``column`` (of ``state``) for each row's item, None for an unknown
        item; read once per column (numpy, not a reindexed frame: a tenth of the time)."""
        found = self._stored.get(column)
        if found is None:
            found = self._spread(self._state_column(column))
            self._stored[column] = found
        return found

    def _state_column(self, column: str) -> np.ndarray:
        """A column of ``state`` as an object array. A state of object columns only (the
        API's) gives all of STORED_COLUMNS at once, views of its values."""
        if column in STORED_COLUMNS and self._state_objects is not None:
            return self._state_objects[STORED_COLUMNS.index(column)]
        return text_column(self.state, column)

    @cached_property
    def _state_objects(self) -> list[np.ndarray] | None:
        """STORED_COLUMNS of ``state`` when it holds them all and object columns only,
        else None (then each column is read when asked, as any other)."""
        if objects_only(self.state) and set(STORED_COLUMNS) <= set(self.state.columns):
            return object_columns(self.state, STORED_COLUMNS)
        return None

    def _spread(self, column: np.ndarray) -> np.ndarray:
        """A column of ``state`` → each row's item's value, None for an unknown item."""
        if self._all_known:
            found: np.ndarray = column[self._positions]
            return found
        known = self.known
        found = np.full(self.size, None, dtype=object)
        found[known] = column[self._positions[known]]
        return found

    @cached_property
    def _all_known(self) -> bool:
        return bool(self.known.all())

    @cached_property
    def known(self) -> np.ndarray:
        known: np.ndarray = self._positions >= 0
        return known

    @cached_property
    def current_status(self) -> np.ndarray:
        return self.stored("status")

    @cached_property
    def was_shipped(self) -> np.ndarray:
        shipped: np.ndarray = self.current_status == "shipped"
        return shipped

    @cached_property
    def any_was_shipped(self) -> bool:
        """Whether any row's item is shipped already (the rules about a recorded shipment
        have nothing to say otherwise: an API update of new shipments)."""
        return bool(self.was_shipped.any())

    @cached_property
    def _distinct_dates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(each row's number among the distinct shipped_date texts, those texts, those
        texts parsed): ISO YYYY-MM-DD always works, the partner's formats are tried in
        order, never guessing day- vs month-first; each distinct text is parsed once."""
        codes, texts = pd.factorize(self.date_text)
        texts = np.asarray(texts, dtype=object)
        days = _parse_texts(texts, self.terms.date_formats)
        return codes, texts, days

    @cached_property
    def dates(self) -> np.ndarray:
        """shipped_date as datetime64[s] (NaT where it is not a date in an accepted format)."""
        codes, _texts, days = self._distinct_dates
        dates: np.ndarray = days[codes]  # the texts are never missing: no code is -1
        return dates

    @cached_property
    def ship_day(self) -> np.ndarray:
        """shipped_date as YYYY-MM-DD text ("" where it is not a date)."""
        codes, _texts, days = self._distinct_dates
        text: np.ndarray = day_text(days)[codes]
        return text

    @cached_property
    def serial_date(self) -> np.ndarray:
        """shipped_date is a spreadsheet's serial number of a day (EXCEL_SERIAL)."""
        codes, texts, _days = self._distinct_dates
        serial = np.array(
            [_EXCEL_SERIAL.fullmatch(text) is not None for text in texts.tolist()], dtype=bool
        )
        found: np.ndarray = serial[codes]
        return found

    @cached_property
    def order_day(self) -> np.ndarray:
        """The day of each row's order in the partner's time zone (NaT where unknown)."""
        return local_days(self.stored("order_created_at"), self.terms.timezone)

    @cached_property
    def carrier_names(self) -> np.ndarray:
        """The canonical carrier names ("" where empty, None where unknown)."""
        return canonical_carriers(self.carrier_text)

    @cached_property
    def carrier_unknown(self) -> np.ndarray:
        """carrier is not one we know ("" is known: empty)."""
        return nones(self.carrier_names)

    @cached_property
    def carriers(self) -> np.ndarray:
        """The canonical carrier names ("" where unknown)."""
        carriers: np.ndarray = np.where(self.carrier_unknown, "", self.carrier_names)
        return carriers

    @cached_property
    def _cleaned_tracking(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the normalised tracking numbers, which look scientific, their lengths): the
        column's characters read once for both questions."""
        return cleaned_tracking(self.tracking_text)

    @cached_property
    def tracking(self) -> np.ndarray:
        """The tracking numbers, normalised (spaces and dashes out, upper case)."""
        return self._cleaned_tracking[0]

    @cached_property
    def no_tracking(self) -> np.ndarray:
        """The normalised tracking number is empty."""
        empty: np.ndarray = self._cleaned_tracking[2] == 0
        return empty

    @cached_property
    def scientific(self) -> np.ndarray:
        return self._cleaned_tracking[1]

    @cached_property
    def too_long(self) -> np.ndarray:
        too_long: np.ndarray = self._cleaned_tracking[2] > TRACKING_MAX
        return too_long

    @cached_property
    def checkable(self) -> np.ndarray:
        """Tracking numbers worth checking against their carrier's formats."""
        checkable: np.ndarray = (
            ~self.no_tracking & ~self.scientific & ~self.too_long & (self.carriers != "")
        )
        return checkable

    @cached_property
    def tracking_check(self) -> tuple[np.ndarray, np.ndarray]:
        """(error, warning) texts of the carrier's format check, "" where none."""
        checkable = self.checkable
        return tracking_problems(
            np.where(checkable, self.carriers, ""),
            np.where(checkable, self.tracking, ""),
            np.where(checkable, self._cleaned_tracking[2], 0),
        )

    @cached_property
    def stored_date(self) -> np.ndarray:
        """The shipped_date the store holds, datetime64[s] (NaT where none)."""
        stored = self.stored("shipped_date")
        if pd.isna(stored).all():  # no item shipped yet: nothing to read
            return np.full(self.size, np.datetime64("NaT"), dtype="datetime64[s]")
        return pd.to_datetime(stored, errors="coerce").to_numpy(dtype="datetime64[s]")
