"""Request bodies read as JSON (web/params.py ``decode_json``): orjson reads them first,
the standard library wherever the two could differ, so every body gives exactly the value
(types included) or the error json.loads with the depth check gave."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftpbridge.errors import RequestError
from ftpbridge.settings import ApiSettings
from ftpbridge.web.params import check_depth, decode_json

API = ApiSettings()


def standard(text: str) -> tuple[str, Any]:
    """What json.loads and the depth check make of ``text`` (the behaviour to keep)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return "error", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    except RecursionError:
        return "error", "nests JSON deeper"
    except ValueError:
        return "error", "holds a number too long to read"
    try:
        check_depth(value, "the body", API.max_json_depth)
    except RequestError:
        return "error", "nests JSON deeper"
    return "value", value


def ours(text: str) -> tuple[str, Any]:
    try:
        return "value", decode_json(text, "the body", API)
    except RequestError as exc:
        return "error", exc.message


def same(text: str) -> None:
    kind, expected = standard(text)
    got_kind, got = ours(text)
    assert got_kind == kind, (text[:200], got)
    if kind == "error":
        assert expected in got
    else:
        assert got == expected
        assert _types(got) == _types(expected)  # 1 stays an int, 1.0 a float, True a bool


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_types(item) for item in value]
    return type(value).__name__


scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # over 64 bits too: orjson would make floats of them
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=400)
@given(documents)
def test_any_json_document_reads_as_the_standard_library_reads_it(document: Any) -> None:
    same(json.dumps(document))
    same(json.dumps(document, ensure_ascii=False, indent=1))


@pytest.mark.parametrize(
    "text",
    [
        '{"id": 123456789012345678901234567890}',  # an integer over 64 bits stays exact
        '{"id": 18446744073709551615, "n": -9223372036854775808}',
        '{"id": 18446744073709551616}',
        "[1.0, 1e5, -0, 0.1]",
        "[NaN, Infinity, -Infinity]",  # json.loads takes them: so do we
        '["\\ud800"]',  # a lone surrogate escape: json.loads takes it
        '{"a": 1, "a": 2}',
        '{"a" 1}',
        "[1,]",
        '"\x00"',
        "[" * 2000 + "]" * 2000,  # past orjson's 1,024 levels and Python's recursion
        "[" * 40 + "]" * 40,
        "[" * 31 + "1" + "]" * 31,
        "[" * 32 + "1" + "]" * 32,
        "{" + '"a":{' * 40 + "}" * 41,
        "1" * 5000,  # json.loads refuses 4,300 digits and more
    ],
)
def test_bodies_where_orjson_and_the_standard_library_differ(text: str) -> None:
    same(text)


def test_a_huge_integer_is_not_turned_into_a_float() -> None:
    value = decode_json('{"orders": [{"id": 123456789012345678901234}]}', "the body", API)
    assert value["orders"][0]["id"] == 123456789012345678901234
