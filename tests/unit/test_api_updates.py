"""Update Orders below HTTP: the short way through an item holds to the field-by-field
checks, the JSON depth check to a walk of every value, and an update of several
partners' items is decided item by item with each partner's rules, in the items' order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftpbridge.errors import RequestError
from ftpbridge.files.updates import ItemUpdate, apply_updates
from ftpbridge.settings import ApiSettings
from ftpbridge.store.engine import utcnow
from ftpbridge.web.params import check_depth
from ftpbridge.web.updates import (
    ITEM_KEYS,
    _checked_id,
    _checked_item,
    _checked_order_id,
    _plain_item,
    _plain_order_id,
    parse_update,
)

UPS = "1Z5R89390357567127"

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**20),
    st.floats(allow_nan=False),
    st.sampled_from(["shipped", "pending", " Shipped ", "SHIPPED", "", " ", "x" * 41, "x" * 101]),
    st.text(max_size=70),
    st.lists(st.text(max_size=3), max_size=2),
)
items = st.dictionaries(
    st.one_of(st.sampled_from(ITEM_KEYS), st.sampled_from(["Status", "note"])), values
)


@settings(max_examples=500, deadline=None)
@given(items)
def test_the_short_way_reads_an_item_as_the_field_checks_do(item: dict[str, Any]) -> None:
    """Wherever _plain_item answers, the field-by-field checks give the same ItemUpdate
    (and raise nothing); where they raise, _plain_item gives no answer."""
    quick = _plain_item("7", item)
    try:
        checked: ItemUpdate | None = _checked_item("7", _checked_id(item, "p"), item, "p")
    except RequestError:
        checked = None
    if quick is not None:
        assert quick == checked
    if checked is None:
        assert quick is None


orders = st.dictionaries(
    st.one_of(st.sampled_from(["id", "items"]), st.sampled_from(["Id", "note"])), values
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(orders, values))
def test_the_short_way_reads_an_order_id_as_the_checks_do(order: Any) -> None:
    """Wherever _plain_order_id answers, _checked_order_id gives the same id (and raises
    nothing); where it raises, _plain_order_id gives no answer."""
    quick = _plain_order_id(order)
    try:
        checked: str | None = _checked_order_id(order, "p")
    except RequestError:
        checked = None
    if quick is not None:
        assert quick == checked
    if checked is None:
        assert quick is None


def test_the_usual_item_takes_the_short_way() -> None:
    """The shape every client in the tests and the bench sends is read by _plain_item."""
    item = {"id": " 21 ", "status": "shipped", "shipping_date": "2026-11-22",
            "tracking_type": "UPS", "tracking_code": UPS}  # fmt: skip
    assert _plain_item("14", item) == ItemUpdate("14", "21", True, "2026-11-22", "UPS", UPS)
    assert _plain_item("14", {"id": "21", "shipped": False}) == ItemUpdate(
        "14", "21", False, None, None, None
    )


def test_mistakes_are_named_in_the_order_the_field_checks_report_them() -> None:
    """The same item twice is reported before a later field's mistake, with both places."""
    api = ApiSettings()
    orders = [
        {"id": "1", "items": [{"id": "21", "status": "shipped"}]},
        {"id": "2", "items": [{"id": "5"}, {"id": "21", "status": "sent"}]},
    ]
    with pytest.raises(RequestError, match=r"orders\[0\]\.items\[0\] and orders\[1\]\.items\[1\]"):
        parse_update(orders, api)
    orders[1]["items"][1]["id"] = "22"
    with pytest.raises(RequestError, match=r'orders\[1\]\.items\[1\]\.status must be "shipped"'):
        parse_update(orders, api)


def _deepest(value: Any, limit: int) -> bool:
    """The reference: every value on a stack with its depth (what check_depth did)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(current, dict):
            stack.extend((child, depth + 1) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, depth + 1) for child in current)
    return False


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=2), children, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(json_values, st.integers(1, 8))
def test_the_depth_check_agrees_with_a_walk_of_every_value(value: Any, limit: int) -> None:
    """Too deep exactly when some value (a scalar too, an empty list not) lies deeper."""
    try:
        check_depth(value, "the body", limit)
        refused = False
    except RequestError as error:
        assert error.message == f"the body nests JSON deeper than {limit} levels"
        refused = True
    assert refused == _deepest(value, limit)


def _update(item_id: str, order_id: str, day: str) -> ItemUpdate:
    return ItemUpdate(order_id, item_id, True, day, "UPS", UPS)


def test_an_update_of_two_partners_items_uses_each_partners_rules(loaded_store, settings) -> None:
    """The shop's key sends items of acme and of ac (who writes dates month-first) in one
    request: acme's items refuse 11/22/2026, ac's item takes it; the refusals come in the
    items' order and nothing is applied. With ISO dates all three are applied."""
    now = utcnow()
    today = now.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    us_day = today.strftime("%m/%d/%Y")
    mixed = [
        _update("1002", "1", us_day),
        _update("1003", "2", us_day),
        _update("1004", "3", us_day),
    ]

    def apply(updates: list[ItemUpdate]) -> Any:
        return apply_updates(
            loaded_store, settings, updates, scope=None, source="api:shop",
            email_requested=False, now=now, timeout=30,
        )  # fmt: skip

    refused = apply(mixed)
    assert [(r.order_id, r.item_id) for r in refused.refused] == [("1", "1002"), ("3", "1004")]
    assert all("is not a date in an accepted format" in r.reason for r in refused.refused)
    assert refused.modified == 0
    iso = [_update(u.item_id, u.order_id, today.isoformat()) for u in mixed]
    applied = apply(iso)
    assert (applied.modified, applied.refused) == (3, [])
