"""The export's hand-written CSV writer against its reference, ``csv.writer``.

``_csv_block`` writes a batch of rows the way ``csv.writer`` (QUOTE_MINIMAL) would, but a
column at a time (ftpbridge/files/exporting.py says why). Hypothesis draws the batches
that could tell them apart: delimiters (the usual ones and any other character a config
may name), quotes, CR/LF inside cells, both line endings, empty cells, any unicode. The
cells go through ``_text`` first, as in an export (it turns a lone CR into LF, see the
module doc of exporting).
"""

from __future__ import annotations

import csv
import io

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

# The fast path under test (re-point here if it moves).
from ftpbridge.files.exporting import _csv_block, _text

PROPERTY = settings(max_examples=400, deadline=None)
# Characters that matter to CSV, weighted in beside any unicode.
AWKWARD = st.sampled_from([",", ";", "\t", "|", '"', "\r", "\n", "\r\n", " ", "é", "中", "😀"])
CELLS = st.lists(st.one_of(AWKWARD, st.text(max_size=6)), max_size=5).map("".join)
# What settings/partners.py accepts: one character, not CR, LF or a quote.
DELIMITERS = st.one_of(
    st.sampled_from([",", ";", "\t", "|"]),
    st.characters(blacklist_characters='\r\n"', blacklist_categories=("Cs",)),
)


@st.composite
def batches(draw: st.DrawFn) -> list[list[str]]:
    """Rows of a batch: at least two columns (a layout has at least the six columns an
    import needs; csv.writer writes a row of one empty cell as '""', which no layout
    can produce), at least one row."""
    width = draw(st.integers(min_value=2, max_value=6))
    return draw(st.lists(st.lists(CELLS, min_size=width, max_size=width), min_size=1, max_size=8))


def reference(rows: list[list[str]], delimiter: str, newline: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buffer.getvalue()


@PROPERTY
@given(
    rows=batches(),
    delimiter=DELIMITERS,
    newline=st.sampled_from(["\r\n", "\n"]),
    joined_known=st.booleans(),
)
@example(rows=[["", ""], ['a"b', "x\r\ny"]], delimiter=",", newline="\n", joined_known=True)
@example(rows=[["a\rb", "c;d"], ["", "\n"]], delimiter=";", newline="\r\n", joined_known=False)
def test_csv_block_writes_what_csv_writer_writes(
    rows: list[list[str]], delimiter: str, newline: str, joined_known: bool
) -> None:
    """Byte for byte the text csv.writer writes for the same rows (after _text)."""
    columns = []
    for cells in zip(*rows, strict=True):
        values, joined = _text(np.array(cells, dtype=object))
        columns.append((values, joined if joined_known else None))
    prepared = [list(row) for row in zip(*(values for values, _ in columns), strict=True)]
    assert _csv_block(columns, delimiter, newline) == reference(prepared, delimiter, newline)


@PROPERTY
@given(cells=st.lists(CELLS, min_size=1, max_size=8))
def test_text_turns_only_a_lone_carriage_return_into_a_line_feed(cells: list[str]) -> None:
    """_text changes nothing but a CR not followed by LF (which becomes LF), and returns
    the values joined."""
    values, joined = _text(np.array(cells, dtype=object))
    expected = []
    for cell in cells:
        fixed = "".join(
            "\n" if char == "\r" and cell[index + 1 : index + 2] != "\n" else char
            for index, char in enumerate(cell)
        )
        expected.append(fixed)
    assert list(values) == expected
    assert joined == "".join(expected)
