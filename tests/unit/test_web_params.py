"""Whole numbers in request parameters (web/params.py ``integer``): the digits 0-9 only,
a number too long for its maximum is over the maximum, and each refusal names the
parameter with the hint its caller gave. (The HTTP answers: tests/web/test_whole_numbers.py.)"""

from __future__ import annotations

import pytest

from ftpbridge.errors import RequestError
from ftpbridge.web.params import ascii_digits, integer


def refusal(value: object, *, maximum: int = 1000) -> RequestError:
    with pytest.raises(RequestError) as caught:
        integer(value, "page_size", minimum=1, maximum=maximum, over_hint="ask for less")
    return caught.value


@pytest.mark.parametrize("text", ["²", "٣", "１", "1²", "-1", "+1", "1.0", "1_000", " ", ""])
def test_anything_but_ascii_digits_is_not_a_whole_number(text: str) -> None:
    """Superscripts, other scripts' digits, full-width digits, signs, decimals and
    underscores (which int() would take): not a whole number, named, with the range."""
    assert not ascii_digits(text.strip())
    error = refusal(text)
    assert error.message == f"page_size must be a whole number, not {text!r}"
    assert error.hint == "send page_size in the digits 0-9, from 1 to 1,000"


@pytest.mark.parametrize("text", ["1001", "123456789012", "9" * 5000, "0" * 30 + "1001"])
def test_a_number_over_the_maximum_says_so_with_the_callers_hint(text: str) -> None:
    """However long: over the maximum, the value shown at most 60 characters."""
    error = refusal(text)
    assert "is over the maximum of 1,000" in error.message
    assert error.message.startswith("page_size ")
    assert len(error.message) < 110
    assert error.hint == "ask for less"


def test_whole_numbers_are_read() -> None:
    """Text with spaces around and leading zeros, JSON integers; the limits themselves."""
    for value, number in ((" 12 ", 12), ("0000000000000000000007", 7), (1000, 1000), ("1", 1)):
        assert integer(value, "n", minimum=1, maximum=1000, over_hint="") == number
    assert refusal(0).message == "page_size must be at least 1, not 0"
    assert refusal(True).message == "page_size must be a whole number, not true"
