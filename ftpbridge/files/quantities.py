"""Whole numbers in text cells, the way spreadsheets write them, a column at a time.

``12`` and ``+12`` are 12, and so is ``12.0`` (a spreadsheet that formats a column with
decimals). Everything else is refused with a reason a warehouse can act on: ``1.2E+03``
(scientific notation: the spreadsheet damaged the cell), ``-3`` (negative), ``12.5``
(not whole), ``1,200`` (a separator: 1200 or 1.2?), ``abc``, and numbers over
:data:`MAX_QUANTITY`. No Python loop runs over the rows: pandas parses the column in C,
and the few characters the checks look for are found over code points with numpy
(:mod:`ftpbridge.textarrays`). Reason texts are built for the refused cells only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftpbridge.textarrays import CodePoints

MAX_QUANTITY = 1_000_000_000
_SHOWN = 30


@dataclass(frozen=True)
class WholeNumbers:
    """A column parsed: ``values`` (int64; 0 where not given or refused), ``given`` (the
    cell is not empty) and ``problems`` (object array: a reason, or "")."""

    values: np.ndarray
    given: np.ndarray
    problems: np.ndarray


def _having(values: np.ndarray, rows: np.ndarray, characters: str) -> np.ndarray:
    """Which of ``values[rows]`` hold any of ``characters`` (bool array over ``rows``)."""
    found = np.zeros(rows.size, dtype=bool)
    if rows.size == 0:
        return found
    points = CodePoints.of(values[rows])
    owner, _offset, codes = points.characters(np.arange(rows.size))
    wanted = np.array([ord(character) for character in characters], dtype=np.uint32)
    found[np.unique(owner[np.isin(codes, wanted)])] = True
    return found


def _quoted(values: np.ndarray) -> np.ndarray:
    return np.array(
        [
            "'" + (value if len(value) <= _SHOWN else value[: _SHOWN - 3] + "...") + "'"
            for value in values
        ],
        dtype=object,
    )


def whole_numbers(cells: np.ndarray, name: str, *, required: bool) -> WholeNumbers:
    """Parse ``cells`` (an object array of stripped text) as whole numbers from 0 to
    MAX_QUANTITY. ``name`` is the column as the reasons call it; an empty cell is a
    problem when ``required``, else "not given"."""
    size = len(cells)
    problems = np.full(size, "", dtype=object)
    given = cells != ""
    numbers = pd.to_numeric(pd.Series(np.where(given, cells, "0"), dtype=object), errors="coerce")
    parsed = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    if required:
        problems[~given] = f"{name} is empty; write the quantity (0 for none)"
    unreadable = np.flatnonzero(given & ~np.isfinite(parsed))
    if unreadable.size:
        texts = cells[unreadable]
        separator = _having(cells, unreadable, ",'’ ")
        shown = _quoted(texts)
        problems[unreadable] = np.where(
            separator,
            name + " " + shown + " has a separator; write whole numbers with digits only"
            " (no thousands separator)",
            name + " " + shown + " is not a number; write a whole number such as 12",
        )
    numeric = given & np.isfinite(parsed)
    if numbers.dtype.kind == "f":  # some cell has a point or an exponent
        candidates = np.flatnonzero(numeric)
        scientific = candidates[_having(cells, candidates, "eE")]
        if scientific.size:
            problems[scientific] = (
                name + " " + _quoted(cells[scientific]) + " was damaged by a spreadsheet"
                " (scientific notation); format the column as a number without decimals"
                " and type the quantity again"
            )
            numeric[scientific] = False
        fraction = numeric & (np.floor(parsed) != parsed)
        if fraction.any():
            rows = np.flatnonzero(fraction)
            problems[rows] = name + " " + _quoted(cells[rows]) + " is not a whole number"
            numeric[rows] = False
    negative = numeric & (parsed < 0)
    if negative.any():
        rows = np.flatnonzero(negative)
        problems[rows] = (
            name + " " + _quoted(cells[rows]) + " is negative; stock cannot be below 0 (write 0)"
        )
        numeric[rows] = False
    too_large = numeric & (parsed > MAX_QUANTITY)
    if too_large.any():
        rows = np.flatnonzero(too_large)
        problems[rows] = name + " " + _quoted(cells[rows]) + f" is over {MAX_QUANTITY:,}"
        numeric[rows] = False
    values = np.where(numeric, parsed, 0).astype(np.int64)
    return WholeNumbers(values, given, problems)
