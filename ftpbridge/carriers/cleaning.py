"""Tracking numbers as text: normalising them, and spotting the damage spreadsheets do.

Warehouses type, paste and scan numbers with spaces, tabs, no-break and zero-width spaces
and lower-case letters; :func:`normalise_tracking` removes the first and upper-cases the
rest. A spreadsheet that took a long number for a number writes it in scientific notation
(:func:`looks_scientific`) or drops its leading zeros (``matching.py``). Work is done a
column at a time (see ftpbridge.textarrays); regexes run on the rare odd values only.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ftpbridge.textarrays import WHITESPACE, CodePoints
from ftpbridge.textarrays import lengths as text_lengths

# Every whitespace character up to the CJK ideographic space, plus invisible zero-width
# characters that spreadsheets and web copies slip into numbers and nobody can see to fix.
_INVISIBLE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
_INVISIBLE_RE = re.compile("[" + re.escape(_INVISIBLE) + "\u200b\u200c\u200d\u2060\ufeff]+")


def normalise_tracking(values: pd.Series) -> pd.Series:
    """Return the tracking numbers with all whitespace (and zero-width characters) removed,
    upper-cased. Missing values stay missing; the index is kept.

    Numbers made of A-Z and 0-9 only (nearly all) are kept as they are, found a column at
    a time (see ftpbridge.textarrays); the regex runs on the others only."""
    # pandas-stubs types na_value without None; pandas accepts it (missing -> None).
    array = values.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    present = np.flatnonzero(~pd.isna(values).to_numpy(dtype=bool))
    if present.size == 0:
        return values
    odd = present[_odd_rows(CodePoints.of(array[present]))]
    if odd.size == 0:
        return values
    fixed = array.copy()
    fixed[odd] = _normalised(array[odd])
    result = pd.Series(fixed, index=values.index, name=values.name, dtype=object)
    return result.astype(values.dtype)


def cleaned_tracking(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`normalise_tracking` and :func:`looks_scientific` of a numpy array of ``str``
    (no missing value: TypeError otherwise), with the normalised numbers' lengths: the
    column's code points are read once for both (validation calls this one)."""
    points = CodePoints.of(values)
    sizes = points.lengths
    normalised = values
    odd = _odd_rows(points)
    if odd.size:
        normalised = values.copy()
        normalised[odd] = _normalised(values[odd])
        sizes = sizes.copy()
        sizes[odd] = text_lengths(normalised[odd])
    return normalised, _scientific_rows(values, points), sizes


def _odd_rows(points: CodePoints) -> np.ndarray:
    """Positions of the strings holding something other than A-Z and 0-9 (to normalise)."""
    # A table of ASCII looked up by code (past DEL, which is outside, all are DEL): a
    # tenth of np.isin's time.
    outside = ~_ASCII_UPPER_LETTER_OR_DIGIT.take(np.minimum(points.codes, 0x7F))
    return _rows_holding(points, outside)


def _normalised(values: np.ndarray) -> np.ndarray:
    return (
        pd.Series(values, dtype=object)
        .str.replace(_INVISIBLE_RE, "", regex=True)
        .str.upper()
        .to_numpy(dtype=object)
    )


_UPPER_LETTER_OR_DIGIT = np.array(
    [ord(character) for character in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"], dtype=np.uint32
)
_ASCII_UPPER_LETTER_OR_DIGIT = np.zeros(0x80, dtype=bool)
_ASCII_UPPER_LETTER_OR_DIGIT[_UPPER_LETTER_OR_DIGIT] = True
# Every character a number in scientific notation may hold (see _SCIENTIFIC).
_SCIENTIFIC_CODES = np.concatenate(
    [np.array([ord(character) for character in "0123456789+-.,Ee"], dtype=np.uint32), WHITESPACE]
)


def _rows_with_codes_outside(points: CodePoints, allowed: np.ndarray) -> np.ndarray:
    """Positions of the strings holding a character not in ``allowed``."""
    return _rows_holding(points, ~np.isin(points.codes, allowed))


def _rows_holding(points: CodePoints, marked: np.ndarray) -> np.ndarray:
    """Positions of the strings holding a character ``marked`` (a bool per code point)."""
    owner = np.repeat(np.arange(points.lengths.size), points.lengths)
    return np.flatnonzero(np.bincount(owner[marked], minlength=points.lengths.size))


# A spreadsheet that took a long number for a number writes it as "1.23457E+21" (or with a
# decimal comma): digits, optionally a fraction, "E", an exponent. Either a fraction or a
# signed exponent is required, so that a real alphanumeric number such as "12E45" is not
# taken for one.
_SCIENTIFIC = re.compile(
    r"\s*[+-]?[0-9]+(?:[.,][0-9]+E[+-]?[0-9]+|E[+-][0-9]+)\s*", flags=re.IGNORECASE
)


def looks_scientific(values: pd.Series) -> pd.Series:
    """Return a bool Series: true where the value looks like a number a spreadsheet wrote in
    scientific notation ("1.23457E+21", "9.4001E+21", "1,23457E+21", "1.2E21", "1E+21"),
    which means the digits of the tracking number are lost. Missing values give false."""
    array = values.to_numpy(dtype=object, na_value="")
    if array.size == 0:
        return pd.Series(np.zeros(0, dtype=bool), index=values.index)
    return pd.Series(_scientific_rows(array, CodePoints.of(array)), index=values.index)


def _scientific_rows(array: np.ndarray, points: CodePoints) -> np.ndarray:
    """:func:`looks_scientific` of ``array`` (str), whose code points are ``points``."""
    result = np.zeros(array.size, dtype=bool)
    # Only strings made of digits, signs, separators, E and whitespace, with an E, can
    # match: the regex runs on those alone (usually none).
    with_e = np.flatnonzero((points.codes == ord("E")) | (points.codes == ord("e")))
    if with_e.size:
        owner = np.repeat(np.arange(array.size), points.lengths)
        candidates = np.setdiff1d(
            np.unique(owner[with_e]), _rows_with_codes_outside(points, _SCIENTIFIC_CODES)
        )
    else:  # no E anywhere (most columns): no candidate
        candidates = with_e
    if candidates.size:
        result[candidates] = (
            pd.Series(array[candidates], dtype=object)
            .str.fullmatch(_SCIENTIFIC)
            .to_numpy(dtype=bool)
        )
    return result


def byte_matrix(numbers: np.ndarray, length: int) -> np.ndarray:
    """(n, length) uint8 matrix of n strings that all have ``length`` characters; a
    character outside ASCII becomes "?", which no format allows."""
    joined = "".join(numbers.tolist()).encode("ascii", errors="replace")
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(numbers), length)


_LETTER_OR_DIGIT = np.zeros(256, dtype=bool)
_LETTER_OR_DIGIT[np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = True


def letters_and_digits_only(numbers: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Bool array: which strings (of the given lengths) hold nothing but A-Z and 0-9.

    All strings are joined into one byte array; each byte that is not a letter or digit
    marks its row through np.bincount, so strings of any length cost no Python call each.
    """
    joined = "".join(numbers.tolist()).encode("ascii", errors="replace")
    bad_bytes = ~_LETTER_OR_DIGIT.take(np.frombuffer(joined, dtype=np.uint8))
    row_of_byte = np.repeat(np.arange(numbers.size), lengths)
    clean: np.ndarray = np.bincount(row_of_byte[bad_bytes], minlength=numbers.size) == 0
    return clean
