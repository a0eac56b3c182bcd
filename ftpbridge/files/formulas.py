r"""Spreadsheet safety (CSV injection): the one rule for every cell ftpbridge writes that
came from someone else (customers, the shop's catalogue, a partner's file).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written
with a leading apostrophe (``'=HYPERLINK(...)``), which Excel, LibreOffice and Google
Sheets show as text and never evaluate, *unless* the cell is a phone number or a plain
negative number: ``+`` followed only by digits, whitespace and ``( ) . / -``
(``+44 20 7946 0958``, ``+1 (617) 555-0100``), or ``-`` followed only by digits with at
most one decimal point or comma (``-12``, ``-3.5``). Such cells cannot call a function,
open a link or start DDE, so they keep their exact text. Anything else that starts with a
sign is arithmetic a spreadsheet would compute (``-2+3`` shows as 1, ``+1+1`` as 2) and
gets the apostrophe too. This follows OWASP's CSV-injection advice, narrowed so that
phone numbers survive.

As regexes (the reference the numpy code below implements, a column at a time over code
points): a cell is a formula when ``re.match(r"[=+\-@\t\r]", cell)`` and not
``re.fullmatch(r"\+[0-9\s()./\-]*|-[0-9]+(?:[.,][0-9]+)?", cell)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ftpbridge.textarrays import WHITESPACE, CodePoints

SIGNS = "=+-@\t\r"
"""The characters a formula cell starts with."""

_DANGEROUS_CODES = np.array([ord(sign) for sign in SIGNS], dtype=np.uint32)
_PHONE_CODES = np.concatenate(
    [np.array([ord(sign) for sign in "0123456789()./-"], dtype=np.uint32), WHITESPACE]
)


def _is_digit(codes: np.ndarray) -> np.ndarray:
    return (codes >= ord("0")) & (codes <= ord("9"))


def formula_cells(values: np.ndarray, joined: str | None = None) -> np.ndarray:
    """Return a bool array: where a cell of ``values`` (an object array of str) would run
    as a formula (see the module doc). ``joined``: the values joined, when the caller has
    them already."""
    points = CodePoints.of(values, joined)
    first = points.first()
    dangerous = np.isin(first, _DANGEROUS_CODES)
    signed = np.flatnonzero(dangerous & ((first == ord("+")) | (first == ord("-"))))
    if signed.size == 0:
        return dangerous
    count = signed.size
    owner, offset, codes = points.characters(signed)
    rest = offset > 0
    digit = _is_digit(codes)
    plus = first[signed] == ord("+")
    not_phone = np.bincount(owner[rest & ~np.isin(codes, _PHONE_CODES)], minlength=count)
    sizes = points.lengths[signed]
    not_digit = np.bincount(owner[rest & ~digit], minlength=count)
    separators = np.bincount(
        owner[rest & ((codes == ord(".")) | (codes == ord(",")))], minlength=count
    )
    second_is_digit = np.zeros(count, dtype=bool)
    second_is_digit[owner[(offset == 1) & digit]] = True
    last_is_digit = np.zeros(count, dtype=bool)
    last_is_digit[owner[rest & (offset == sizes[owner] - 1) & digit]] = True
    number = second_is_digit & last_is_digit & (separators <= 1) & (not_digit == separators)
    harmless = np.where(plus, not_phone == 0, number)
    dangerous[signed[harmless]] = False
    return dangerous


def neutralised(values: np.ndarray, joined: str | None = None) -> np.ndarray:
    """Return ``values`` with ``'`` before every formula cell; ``values`` itself (the same
    object) when no cell is one. ``joined``: the values joined, when the caller has them
    already (then a column without any sign anywhere costs one ``in`` per sign)."""
    if joined is not None and not any(sign in joined for sign in SIGNS):
        return values  # no cell holds a dangerous sign anywhere, so none starts with one
    formula = formula_cells(values, joined)
    if not formula.any():
        return values
    result = values.copy()
    result[formula] = "'" + values[formula]
    return result


def neutralise_formulas(values: pd.Series) -> pd.Series:
    """Return the column with ``'`` before every formula cell, same index and dtype."""
    array = values.to_numpy(dtype=object)
    result = neutralised(array)
    if result is array:
        return values
    return pd.Series(result, index=values.index, name=values.name, dtype=values.dtype)
