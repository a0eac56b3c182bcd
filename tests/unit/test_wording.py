"""Words for people: "1 row", "2 rows"; strftime formats as the examples people type."""

from __future__ import annotations

import pytest

from ftpbridge.wording import format_example, plural


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [
        (1, "row", "1 row"),
        (0, "row", "0 rows"),
        (2, "item", "2 items"),
        (3000, "row", "3,000 rows"),
        (2, "entry", "2 entries"),
        (1, "entry", "1 entry"),
    ],
)
def test_plural(count: int, noun: str, expected: str) -> None:
    """One is singular, everything else plural, thousands grouped."""
    assert plural(count, noun) == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("%m/%d/%Y", "MM/DD/YYYY"), ("%d.%m.%y", "DD.MM.YY"), ("%Y-%m-%d %H:%M", "YYYY-MM-DD hh:mm")],
)
def test_format_example(fmt: str, expected: str) -> None:
    """strftime codes become the letters a spreadsheet shows."""
    assert format_example(fmt) == expected
