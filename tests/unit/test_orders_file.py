"""``orders load`` streamed (files/orders_file.py): batches inside one transaction, every
problem still listed at once, and nothing kept when there is one, even after batches were
written (issue 11 item 20)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from ftpbridge.errors import OrdersFileError
from ftpbridge.files import orders_file
from ftpbridge.files.intake import load_orders
from ftpbridge.store.schema import items, orders


def _order(order_id: int, *item_ids: str) -> str:
    return json.dumps(
        {
            "id": order_id,
            "created_at": "2026-11-20T14:03:00Z",
            "items": [{"id": item, "factory_sku": "X"} for item in item_ids],
        }
    )


def _count(store, table) -> int:
    with store.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_file_in_many_batches_loads_whole(store, settings, tmp_path, monkeypatch) -> None:
    """Seven orders in batches of two: all loaded, counted once; a UTF-8 BOM is fine."""
    monkeypatch.setattr(orders_file, "BATCH_ORDERS", 2)
    path = tmp_path / "o.jsonl"
    lines = [_order(number, f"{number}01", f"{number}02") for number in range(1, 8)]
    path.write_bytes(b"\xef\xbb\xbf" + "\n\n".join(lines).encode() + b"\n")
    result = load_orders(store, path, list(settings.partners.values()))
    assert (result.orders, result.items, result.summary.items_new) == (7, 14, 14)
    assert result.routed == {"acme": 14}
    assert (_count(store, orders), _count(store, items)) == (7, 14)


@pytest.mark.parametrize(
    ("lines", "problems"),
    [
        (
            [_order(1, "a"), _order(2, "b"), _order(3, "c"), "{not json", _order(1, "d")],
            ["line 4: not valid JSON", "line 5: order 1 already appears on line 1"],
        ),
        (
            [_order(1, "a"), _order(2, "b"), _order(3, "c"), _order(4, "b")],
            ["line 4: item b already appears on line 2"],
        ),
        ([_order(1, "a", "a")], ["line 1: item a appears twice in this order"]),
    ],
    ids=["json-and-order-twice", "item-in-two-orders", "item-twice-in-one-order"],
)
def test_any_problem_keeps_nothing_and_every_problem_is_listed(
    store, settings, tmp_path, monkeypatch, lines, problems
) -> None:
    """Batches already written are rolled back; the error lists each problem by line."""
    monkeypatch.setattr(orders_file, "BATCH_ORDERS", 2)
    path = tmp_path / "o.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(OrdersFileError) as raised:
        load_orders(store, path, list(settings.partners.values()))
    for problem in problems:
        assert problem in raised.value.message
    assert raised.value.message.count("\n  - ") == len(problems)
    assert (_count(store, orders), _count(store, items)) == (0, 0)


def test_many_bad_lines_are_all_counted(store, settings, tmp_path) -> None:
    """1,000 bad lines: the message lists the first 50 and says '... and 950 more' (it said
    '... and 151 more' whatever the count: the problems past 200 were hidden in an entry
    that was never shown)."""
    path = tmp_path / "o.jsonl"
    path.write_text("not json\n" * 1_000, encoding="utf-8")
    with pytest.raises(OrdersFileError) as raised:
        load_orders(store, path, list(settings.partners.values()))
    message = raised.value.message
    assert "1,000 invalid lines" in message
    assert message.count("\n  - ") == 50
    assert message.endswith("... and 950 more")
    assert (_count(store, orders), _count(store, items)) == (0, 0)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": ' + "9" * 5_000 + "}", "a number of more than 4,300 digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
    ids=["long number", "deep nesting"],
)
def test_json_python_cannot_read_is_a_bad_line(store, settings, tmp_path, line, reason) -> None:
    """json.loads raises ValueError (not JSONDecodeError) for a number of over 4,300 digits,
    and RecursionError for deep nesting: each is that line's problem, not exit 70."""
    path = tmp_path / "o.jsonl"
    path.write_text(_order(1, "101") + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(OrdersFileError) as raised:
        load_orders(store, path, list(settings.partners.values()))
    assert f"line 2: {reason}" in raised.value.message or reason in raised.value.message
    assert (_count(store, orders), _count(store, items)) == (0, 0)
