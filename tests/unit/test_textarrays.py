"""ftpbridge/textarrays.py (numpy over code points) against plain Python on the same
strings: lengths, first and last characters, every character with its owner and place,
and strip. Hypothesis draws any unicode, astral characters and lone surrogates included
(a Python str may hold one; the module reads them with surrogatepass), empty strings and
every kind of whitespace.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ftpbridge.textarrays import WHITESPACE, CodePoints, lengths, strip

PROPERTY = settings(max_examples=400, deadline=None)
ANY_CHARACTER = st.characters(blacklist_categories=())  # surrogates too
SPACES = st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\x1c", "\x85", "\u00a0", "\u3000"])
STRINGS = st.lists(st.one_of(ANY_CHARACTER, SPACES), max_size=8).map("".join)
COLUMNS = st.lists(STRINGS, max_size=12)


def array(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object) if values else np.empty(0, dtype=object)


def test_whitespace_is_what_str_isspace_says() -> None:
    """WHITESPACE holds every code point str.isspace() accepts, and only those."""
    every = [code for code in range(0x110000) if chr(code).isspace()]
    assert sorted(WHITESPACE.tolist()) == every


@PROPERTY
@given(values=COLUMNS)
@example(values=["", "a", "\ud800", "😀x", ""])
def test_lengths_first_and_last_are_len_and_ord(values: list[str]) -> None:
    """lengths = len; first/last = ord of the first/last character, 0 for ''."""
    column = array(values)
    assert lengths(column).tolist() == [len(value) for value in values]
    points = CodePoints.of(column)
    assert points.first().tolist() == [ord(value[0]) if value else 0 for value in values]
    assert points.last().tolist() == [ord(value[-1]) if value else 0 for value in values]
    assert CodePoints.of(column, "".join(values)).codes.tolist() == [
        ord(char) for char in "".join(values)
    ]


@PROPERTY
@given(data=st.data(), values=COLUMNS)
def test_characters_lists_every_character_of_the_chosen_rows(
    data: st.DataObject, values: list[str]
) -> None:
    """characters(rows): (owner, offset, code) of every character of those rows, in order."""
    rows = data.draw(st.lists(st.integers(0, max(0, len(values) - 1)), max_size=len(values)))
    rows = rows if values else []
    owner, offset, codes = CodePoints.of(array(values)).characters(np.array(rows, dtype=np.int64))
    expected = [
        (position, place, ord(char))
        for position, row in enumerate(rows)
        for place, char in enumerate(values[row])
    ]
    assert list(zip(owner.tolist(), offset.tolist(), codes.tolist(), strict=True)) == expected


@PROPERTY
@given(values=COLUMNS, characters=st.one_of(st.none(), st.text(max_size=3)))
@example(values=[" a ", "\u3000b\u3000", "", "\x85"], characters=None)
@example(values=["--x--", "x"], characters="-")
@example(values=["", "x"], characters="\x00")
def test_strip_is_str_strip(values: list[str], characters: str | None) -> None:
    """strip(values, characters) is str.strip(characters) of each value, and hands the
    same array back when no value needed it. (One exception, a copy but never a wrong
    value: first()/last() give 0 for an empty string, so with NUL among the characters
    an empty value looks padded.)"""
    column = array(values)
    result = strip(column, characters)
    expected = [value.strip(characters) for value in values]
    assert list(result) == expected
    nul_edge = "" in values and "\x00" in (characters or "")
    if expected == values and not nul_edge:
        assert result is column
