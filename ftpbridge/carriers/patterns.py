"""Tracking-number regexes compiled to numpy position tables: a column matched without a
regex call per row.

The corpus's patterns (``formats.py``) are bounded: no ``*`` or ``+`` except on ``\\s`` or
inside a look-ahead, so every pattern matches strings of a few known lengths only. For one
length ``L`` a pattern is expanded into its *shapes*: each a sequence of ``L`` sets of
allowed bytes (a ``(L, 256)`` bool table), the positions of its named groups, and the
look-ahead and ``\\b`` conditions that the tables alone cannot say. Matching ``n`` numbers
of length ``L`` is then one fancy-index into the table per shape.

Shapes come out in the order a backtracking matcher tries them (alternatives left to right,
greedy repeats longest first, an optional part present first), so the first shape that
matches a number is the parse ``re.fullmatch`` finds, with the same group positions: the
check digit is computed on the same characters as the corpus's reference.

Numbers are normalised before matching (no whitespace, upper case: see ``cleaning.py``), so
``\\s`` matches nothing here and ``\\s*`` is empty. The tests check, with hypothesis, that
the shapes accept exactly what ``re.fullmatch`` accepts on such strings.

The patterns are parsed by ``syntax.py``, which says which regex syntax is supported.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ftpbridge.carriers.expansion import (
    Boundary,
    Condition,
    Pending,
    decide,
    expand,
    max_length,
    min_length,
)
from ftpbridge.carriers.syntax import WORD, Mask, PatternError, parse

__all__ = [
    "PatternError",
    "Shape",
    "compile_all_lengths",
    "compile_length",
    "first_match",
    "fullmatch",
    "lengths",
    "parse",
    "row_kinds",
]


# ------------------------------------------------------------------------------ shapes

_WORD_TABLE = np.array([bool(WORD >> byte & 1) for byte in range(256)])


def table_of(masks: tuple[Mask, ...]) -> np.ndarray:
    """(len(masks), 256) bool table: may byte b stand at position i?"""
    packed = np.frombuffer(b"".join(mask.to_bytes(32, "little") for mask in masks), np.uint8)
    bits = np.unpackbits(packed, bitorder="little").reshape(len(masks), 256)
    return bits.astype(bool)


def _holds(condition: Condition, matrix: np.ndarray) -> np.ndarray:
    """Bool array: does the undecided ``condition`` hold for each row of the byte matrix?"""
    rows = matrix.shape[0]
    if isinstance(condition, Boundary):
        position = condition.position
        before = _WORD_TABLE[matrix[:, position - 1]] if position > 0 else np.zeros(rows, bool)
        inside = position < matrix.shape[1]
        after = _WORD_TABLE[matrix[:, position]] if inside else np.zeros(rows, bool)
        return np.asarray(before != after)
    if not isinstance(condition, Pending):
        raise TypeError(f"undecided condition expected, got {condition!r}")
    found = np.zeros(rows, dtype=bool)
    for option in condition.options:
        holds = np.ones(rows, dtype=bool)
        for position, mask in option.constraints:
            holds &= table_of((mask,))[0][matrix[:, position]]
        for nested in option.conditions:
            holds &= _holds(nested, matrix)
        found |= holds
    return found if condition.positive else ~found


# Rows are sorted into kinds once per matrix: a shape then checks, for a row of digits only,
# just the positions whose byte set does not hold every digit (a "9" or "4" of "94..."), and
# for a row of letters and digits just those not holding every letter and digit. Nearly all
# rows are of one of these two kinds, so most positions are never looked at.
DIGITS_ONLY, LETTERS_AND_DIGITS, ANY_BYTES = 2, 1, 0


_KIND_OF_BYTE = np.full(256, ANY_BYTES, dtype=np.int8)
_KIND_OF_BYTE[ord("A") : ord("Z") + 1] = LETTERS_AND_DIGITS
_KIND_OF_BYTE[ord("0") : ord("9") + 1] = DIGITS_ONLY


def row_kinds(matrix: np.ndarray) -> np.ndarray:
    """The kind of each row of the byte matrix (DIGITS_ONLY, LETTERS_AND_DIGITS, ANY_BYTES)."""
    if matrix.shape[1] == 0:
        return np.full(matrix.shape[0], DIGITS_ONLY, dtype=np.int8)
    kinds: np.ndarray = _KIND_OF_BYTE.take(matrix).min(axis=1)  # take: uint8 indices
    return kinds


@dataclass(frozen=True, eq=False)
class Shape:
    """One way a pattern matches strings of one length: ``table`` (length, 256) says which
    byte may stand at each position, ``conditions`` what the table cannot say, ``groups``
    the (start, end) of each named group."""

    table: np.ndarray
    conditions: tuple[Condition, ...]
    groups: dict[str, tuple[int, int]]

    @functools.cached_property
    def _columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions to look at for rows of each kind: those whose byte set lacks a digit;
        then those that lack a letter or digit but not a digit; then all the others."""
        digits = np.frombuffer(b"0123456789", dtype=np.uint8)
        letters = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
        lacks_digit = ~self.table[:, digits].all(axis=1)
        lacks_alnum = lacks_digit | ~self.table[:, letters].all(axis=1)
        return (
            np.flatnonzero(lacks_digit),
            np.flatnonzero(lacks_alnum & ~lacks_digit),
            np.flatnonzero(~lacks_alnum),
        )

    def _fits(self, matrix: np.ndarray, columns: np.ndarray) -> np.ndarray:
        if columns.size == 0:
            return np.ones(matrix.shape[0], dtype=bool)
        found: np.ndarray = self.table[columns, matrix[:, columns]].all(axis=1)
        return found

    def matches(self, matrix: np.ndarray, kinds: np.ndarray | None = None) -> np.ndarray:
        """Bool array: which rows of the (n, length) byte matrix match this shape.
        ``kinds`` is :func:`row_kinds` of the matrix (computed when not given)."""
        if kinds is None:
            kinds = row_kinds(matrix)
        for_digits, for_alnum, for_any = self._columns
        found = self._fits(matrix, for_digits)
        for kind, columns in ((LETTERS_AND_DIGITS, for_alnum), (ANY_BYTES, for_any)):
            if columns.size == 0:
                continue
            rows = np.flatnonzero(found & (kinds <= kind))
            if rows.size:
                found[rows] = self._fits(matrix[rows], columns)
        for condition in self.conditions:
            rows = np.flatnonzero(found)
            if rows.size:
                found[rows] = _holds(condition, matrix[rows])
        return found


@functools.cache
def compile_length(pattern: str, length: int) -> tuple[Shape, ...]:
    """The shapes of ``pattern`` for strings of ``length`` characters, in the order a
    backtracking matcher tries them (the first that matches is ``re``'s parse)."""
    shapes: list[Shape] = []
    seen: set[tuple[tuple[Mask, ...], tuple[Condition, ...]]] = set()
    for fragment in expand(parse(pattern), 0, length):
        if fragment.end != length:
            continue
        remaining: list[Condition] = []
        for condition in fragment.conditions:
            decided = decide(condition, fragment.masks)
            if decided is False:
                break
            if decided is not True:
                remaining.append(decided)
        else:
            key = (fragment.masks, tuple(remaining))
            if key in seen:
                continue  # an identical earlier shape claims every row this one would
            seen.add(key)
            spans = {name: (start, stop) for name, start, stop in fragment.groups}
            shapes.append(Shape(table_of(fragment.masks), tuple(remaining), spans))
    return tuple(shapes)


LONGEST = 64  # no tracking number is longer (files refuse more than 40 characters)


@functools.cache
def lengths(pattern: str) -> tuple[int, ...]:
    """The lengths (up to LONGEST) of the strings ``pattern`` can match."""
    node = parse(pattern)
    longest = min(max_length(node) or LONGEST, LONGEST)
    return tuple(
        length
        for length in range(min_length(node), longest + 1)
        if length and compile_length(pattern, length)
    )


def compile_all_lengths(pattern: str) -> dict[int, tuple[Shape, ...]]:
    """Every length's shapes (to check a pattern once, e.g. after a corpus refresh)."""
    return {length: compile_length(pattern, length) for length in lengths(pattern)}


def first_match(
    shapes: tuple[Shape, ...], matrix: np.ndarray, kinds: np.ndarray | None = None
) -> np.ndarray:
    """For each row of the byte matrix, the index of the first shape that matches it, or
    -1: the parse ``re.fullmatch`` would find. ``kinds``: :func:`row_kinds` of the matrix,
    when the caller has it already."""
    chosen = np.full(matrix.shape[0], -1, dtype=np.int64)
    if not shapes or matrix.shape[0] == 0:
        return chosen
    if kinds is None:
        kinds = row_kinds(matrix)
    if len(shapes) == 1:
        chosen[shapes[0].matches(matrix, kinds)] = 0
        return chosen
    open_rows = np.arange(matrix.shape[0])
    for index, shape in enumerate(shapes):
        if open_rows.size == 0:
            break
        whole = open_rows.size == matrix.shape[0]
        hit = shape.matches(
            matrix if whole else matrix[open_rows], kinds if whole else kinds[open_rows]
        )
        chosen[open_rows[hit]] = index
        open_rows = open_rows[~hit]
    return chosen


def fullmatch(pattern: str, matrix: np.ndarray) -> np.ndarray:
    """Bool array: which rows of the (n, length) byte matrix match ``pattern`` in full."""
    if matrix.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return first_match(compile_length(pattern, matrix.shape[1]), matrix) >= 0
