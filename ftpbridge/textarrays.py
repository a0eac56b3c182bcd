"""Questions about every cell of a text column, answered without a Python loop per cell.

pandas 3 without pyarrow runs its ``.str`` methods as a Python loop over the values (a
regex ``str.contains`` costs about 0.4 µs a cell: 17 columns of a million-line export
would spend seconds there). The questions export asks of every cell are simpler: how long
is it, what is its first or last character, is every character one of a small set. A
column joined once (``"".join``) and read back as UTF-32 code points answers all of them
with numpy, in C, whatever the text's script.

Values are numpy object arrays of ``str`` (no missing values: callers fill them first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Every code point for which str.isspace() is true (none is above U+3000); str.strip()
# and the regex class \s use this very set.
WHITESPACE = np.array([code for code in range(0x3001) if chr(code).isspace()], dtype=np.uint32)


def lengths(values: np.ndarray) -> np.ndarray:
    """The length of each string, as int64 (``map(len, ...)`` runs in C)."""
    return np.fromiter(map(len, values), dtype=np.int64, count=len(values))


@dataclass(frozen=True)
class CodePoints:
    """A column's strings one after another as code points (``codes``), with where each
    one starts and how long it is."""

    codes: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, joined: str | None = None) -> CodePoints:
        """The code points of ``values``; ``joined`` is ``"".join(values)`` when the
        caller has it already."""
        sizes = lengths(values)
        if joined is None:
            joined = "".join(values)
        # surrogatepass: a lone surrogate (possible in str, never in valid UTF-8) is one
        # code unit like any other character instead of an error.
        codes = np.frombuffer(joined.encode("utf-32-le", errors="surrogatepass"), np.uint32)
        return cls(codes, np.cumsum(sizes) - sizes, sizes)

    def first(self) -> np.ndarray:
        """The first code point of each string; 0 for an empty string."""
        return self._at(self.starts)

    def last(self) -> np.ndarray:
        """The last code point of each string; 0 for an empty string."""
        return self._at(self.starts + self.lengths - 1)

    def _at(self, positions: np.ndarray) -> np.ndarray:
        result = np.zeros(len(self.lengths), dtype=np.uint32)
        filled = self.lengths > 0
        result[filled] = self.codes[positions[filled]]
        return result

    def characters(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every character of the strings at ``rows``, flat: ``(owner, offset, code)`` where
        ``owner`` indexes ``rows`` and ``offset`` is the position in its string."""
        sizes = self.lengths[rows]
        owner = np.repeat(np.arange(rows.size), sizes)
        first_of_owner = np.repeat(np.cumsum(sizes) - sizes, sizes)
        offset = np.arange(int(sizes.sum())) - first_of_owner
        codes = self.codes[np.repeat(self.starts[rows], sizes) + offset]
        return owner, offset, codes


def strip(values: np.ndarray, characters: str | None = None) -> np.ndarray:
    """``str.strip(characters)`` of each value (whitespace by default); only values that
    start or end with one of those characters are touched (usually none), the others are
    returned as they are."""
    if len(values) == 0:
        return values
    if characters is None:
        stripped = WHITESPACE
    else:
        stripped = np.array([ord(character) for character in characters], dtype=np.uint32)
    points = CodePoints.of(values)
    padded = np.flatnonzero(np.isin(points.first(), stripped) | np.isin(points.last(), stripped))
    if padded.size == 0:
        return values
    result = values.copy()
    result[padded] = [value.strip(characters) for value in values[padded]]
    return result
