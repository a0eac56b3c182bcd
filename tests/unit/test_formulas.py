"""The export's vectorised formula check against the rule the README documents.

README, "Spreadsheet safety": a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return gets a leading apostrophe, unless it is a phone number (``+`` followed
only by digits, spaces and ``( ) . / -``) or a plain negative number (``-`` followed only
by digits, with at most one decimal point or comma between digits). ``is_formula`` below
is that sentence in plain Python, character by character ("spaces" read as whitespace,
as the module's documented regex ``\\s`` does); the regexes of exporting.py are a second
reference. Hypothesis draws cells around the edges of the rule.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

# The fast paths under test; the documented regexes are the ones ftpbridge/files/formulas.py
# states in its docstring (and the README in words).
from ftpbridge.files.formulas import formula_cells as _formula_cells
from ftpbridge.files.formulas import neutralise_formulas
from ftpbridge.files.formulas import neutralised as _neutralised

_DANGEROUS_START = r"[=+\-@\t\r]"
_HARMLESS = r"\+[0-9\s()./\-]*|-[0-9]+(?:[.,][0-9]+)?"

PROPERTY = settings(max_examples=500, deadline=None)
SIGNS = "=+-@\t\r"
PHONE_CHARACTERS = set("0123456789()./-")


def is_plain_number(text: str) -> bool:
    """Digits, with at most one '.' or ',' that has digits on both sides."""
    separators = [index for index, char in enumerate(text) if char in ".,"]
    if len(separators) > 1:
        return False
    parts = [text[: separators[0]], text[separators[0] + 1 :]] if separators else [text]
    return all(part and all("0" <= char <= "9" for char in part) for part in parts)


def is_formula(cell: str) -> bool:
    """The README's rule, read literally."""
    if not cell or cell[0] not in SIGNS:
        return False
    rest = cell[1:]
    if cell[0] == "+":
        return not all(char in PHONE_CHARACTERS or char.isspace() for char in rest)
    if cell[0] == "-":
        return not is_plain_number(rest)
    return True


def by_regex(cell: str) -> bool:
    """The documented regexes: a dangerous start that is not entirely harmless."""
    return bool(re.match(_DANGEROUS_START, cell)) and not re.fullmatch(_HARMLESS, cell)


# Cells near the rule's edges: a sign, then digits, separators, phone characters,
# whitespace of every kind, other signs, and any unicode.
EDGES = st.sampled_from(
    [*SIGNS, "0", "7", ".", ",", "(", ")", "/", " ", "\u00a0", "\u3000", "\n", "٣", "e", "E"]
)
CELLS = st.one_of(
    st.tuples(st.sampled_from([*SIGNS, ""]), st.lists(EDGES, max_size=8)).map(
        lambda parts: parts[0] + "".join(parts[1])
    ),
    st.text(max_size=10),
)


@PROPERTY
@given(cells=st.lists(CELLS, min_size=1, max_size=12))
@example(cells=["+44 20 7946 0958", "+1 (617) 555-0100", "-12", "-3.5", "-3,5"])
@example(cells=["-2+3", "+1+1", "=HYPERLINK(1)", "@SUM(A1)", "\tx", "\rx", "-", "-1.", "-.5"])
@example(cells=["+", "", "+\u3000", "-1.2.3", "-1,2.3", "-٣", "+٣", "plain"])
def test_formula_cells_follow_the_documented_rule(cells: list[str]) -> None:
    """_formula_cells marks exactly the cells the README's rule (and the documented
    regexes) call formulas, on a whole column at once."""
    values = np.array(cells, dtype=object)
    expected = [is_formula(cell) for cell in cells]
    assert expected == [by_regex(cell) for cell in cells]  # the two references agree
    assert list(_formula_cells(values)) == expected
    assert list(_formula_cells(values, "".join(cells))) == expected


@PROPERTY
@given(cells=st.lists(CELLS, min_size=1, max_size=12))
def test_neutralising_prefixes_an_apostrophe_to_formulas_only(cells: list[str]) -> None:
    """Formulas get a leading apostrophe; every other cell keeps its exact text (the
    column and the Series paths of export)."""
    expected = ["'" + cell if is_formula(cell) else cell for cell in cells]
    values = np.array(cells, dtype=object)
    assert list(_neutralised(values, "".join(cells))) == expected
    series = pd.Series(cells, index=range(10, 10 + len(cells)), dtype="str", name="ship_name")
    result = neutralise_formulas(series)
    assert list(result) == expected
    assert list(result.index) == list(series.index) and result.name == "ship_name"
