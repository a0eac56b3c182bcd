"""Loading orders (JSON Lines, Topspin Orders API shape) into the store."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from ftpbridge.errors import InputFileError, OrdersFileError
from ftpbridge.files.exporting import export_partner
from ftpbridge.files.intake import load_orders
from ftpbridge.files.layouts import load_layout
from ftpbridge.files.routing import route
from ftpbridge.settings import build_settings
from ftpbridge.store.schema import items, orders

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def order(order_id: Any = 1, *, items_: list[dict[str, Any]] | None = None, **extra: Any) -> dict:
    """One order in the Topspin shape, with one pending item unless told otherwise."""
    record = {
        "id": order_id,
        "created_at": "2026-11-20T14:03:00Z",
        "fan": "fan@example.com",
        "shipping_address": {
            "firstname": "Ken",
            "lastname": "Thompson",
            "address1": "4 Main Street",
            "address2": "",
            "city": "Boston",
            "state": "MA",
            "postal_code": "02134",
            "country": "US",
            "phone": "+1 617 555 0100",
        },
        "items": items_ if items_ is not None else [item(21)],
    }
    record.update(extra)
    return record


def item(item_id: Any, **extra: Any) -> dict:
    """One line item in the Topspin shape."""
    record = {
        "id": item_id,
        "sku_id": 25,
        "product_name": "Tour T-Shirt",
        "product_type": "merchandise",
        "sku_attributes": {"Size": "M", "Color": "Black"},
        "factory_sku": "007",
        "sku_upc": "22-2222-222",
        "quantity": 1,
        "status": "pending",
    }
    record.update(extra)
    return record


def write_jsonl(path: Path, records: list[Any]) -> Path:
    lines = [record if isinstance(record, str) else json.dumps(record) for record in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def item_rows(store) -> dict[str, dict[str, Any]]:
    with store.connect() as connection:
        return {row["id"]: dict(row) for row in connection.execute(select(items)).mappings()}


def order_rows(store) -> dict[str, dict[str, Any]]:
    with store.connect() as connection:
        return {row["id"]: dict(row) for row in connection.execute(select(orders)).mappings()}


def test_identifiers_stay_text(store, settings, tmp_path: Path) -> None:
    """Postal code 02134 and warehouse SKU 007 keep their zeros; numeric ids become digits."""
    path = write_jsonl(tmp_path / "o.jsonl", [order(42, items_=[item(9001, sku_id=25)])])
    load_orders(store, path, list(settings.partners.values()))
    stored_order = order_rows(store)["42"]
    stored_item = item_rows(store)["9001"]
    assert stored_order["ship_postal_code"] == "02134"
    assert stored_order["ship_phone"] == "+1 617 555 0100"
    assert stored_item["warehouse_sku"] == "007"
    assert stored_item["sku_id"] == "25"
    assert stored_item["order_id"] == "42"
    assert stored_item["upc"] == "22-2222-222"
    assert stored_item["attributes"] == "Size: M; Color: Black"


def test_example_orders_load(loaded_store) -> None:
    """examples/orders.jsonl loads completely: 12 orders, 18 items, one cancelled."""
    stored = item_rows(loaded_store)
    assert len(order_rows(loaded_store)) == 12
    assert len(stored) == 18
    assert [key for key, row in stored.items() if row["status"] == "cancelled"] == ["1018"]
    assert order_rows(loaded_store)["4"]["ship_postal_code"] == "02134"
    assert order_rows(loaded_store)["3"]["ship_postal_code"] == "07102"


def test_invalid_lines_are_all_listed_and_nothing_is_loaded(store, settings, tmp_path) -> None:
    """Every bad line is named with its number and reason; no line of the file is loaded."""
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            order(1),  # line 1: fine
            "{not json",  # line 2
            order(2, created_at="yesterday"),  # line 3
            order(3, items_=[]),  # line 4
            order(4, items_=[item(41, quantity=1.5)]),  # line 5
            order(1, items_=[item(99)]),  # line 6: order 1 again
            order(5, items_=[item(21)]),  # line 7: item 21 is on line 1
            order(6, items_=[item(61, status="lost")]),  # line 8
            order(7, items_=[item(71, id=None)]),  # line 9
            "[1, 2]",  # line 10
        ],
    )
    with pytest.raises(OrdersFileError) as caught:
        load_orders(store, path, list(settings.partners.values()))
    problems = caught.value.problems
    assert [problem.split(":")[0] for problem in problems] == [
        f"line {number}" for number in (2, 3, 4, 5, 6, 7, 8, 9, 10)
    ]
    text = "\n".join(problems)
    assert "not valid JSON" in text
    assert "created_at 'yesterday'" in text
    assert "items must be a non-empty list" in text
    assert "quantity must be a whole number" in text
    assert "already appears on line 1" in text
    assert "'lost'" in text
    assert "nothing was loaded" in caught.value.message
    assert item_rows(store) == {}
    assert order_rows(store) == {}


@pytest.mark.parametrize(
    "bad_item",
    [
        {"status": 5},
        {"status": ["pending"]},
        {"factory_sku": 7.5},
        {"sku_attributes": ["Red"]},
        {"product_name": {"en": "Shirt"}},
        {"quantity": -1},
        {"quantity": "two"},
    ],
)
def test_wrongly_typed_item_values_are_listed_not_crashing(
    store, settings, tmp_path, bad_item
) -> None:
    """A value of the wrong JSON type is an invalid line with a reason, never a crash."""
    path = write_jsonl(
        tmp_path / "typed.jsonl", [order(1), order(2, items_=[item(22, **bad_item)])]
    )
    with pytest.raises(OrdersFileError) as caught:
        load_orders(store, path, list(settings.partners.values()))
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("line 2: items[1]: ")
    assert item_rows(store) == {}


def test_empty_and_non_utf8_files_are_rejected(store, settings, tmp_path) -> None:
    """A file with no orders, or not UTF-8, is an InputFileError naming the file."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="holds no orders"):
        load_orders(store, empty, list(settings.partners.values()))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(order(1)).replace("Ken", "Ren\u00e9").encode("latin-1"))
    with pytest.raises(InputFileError, match="not UTF-8"):
        load_orders(store, latin, list(settings.partners.values()))
    with pytest.raises(InputFileError, match="cannot read"):
        load_orders(store, tmp_path / "missing.jsonl", list(settings.partners.values()))


def test_created_at_is_stored_as_utc(store, settings, tmp_path) -> None:
    """Offsets are converted to UTC; a time without offset is taken as UTC (Topspin's)."""
    path = write_jsonl(
        tmp_path / "times.jsonl",
        [
            order(1, created_at="2026-11-20T09:03:00-05:00", items_=[item(11)]),
            order(2, created_at="2026-11-20 14:03:00", items_=[item(12)]),
        ],
    )
    load_orders(store, path, list(settings.partners.values()))
    stored = order_rows(store)
    assert stored["1"]["created_at"] == dt.datetime(2026, 11, 20, 14, 3, tzinfo=dt.UTC)
    assert stored["2"]["created_at"] == dt.datetime(2026, 11, 20, 14, 3, tzinfo=dt.UTC)


def test_reload_updates_pending_items(store, settings, tmp_path) -> None:
    """Loading an order again updates its pending items' fields and its address."""
    partners = list(settings.partners.values())
    load_orders(store, write_jsonl(tmp_path / "a.jsonl", [order(1)]), partners)
    changed = order(1, items_=[item(21, quantity=3, product_name="Tour Tee")])
    changed["shipping_address"]["city"] = "Cambridge"
    result = load_orders(store, write_jsonl(tmp_path / "b.jsonl", [changed]), partners)
    assert result.summary.items_updated == 1
    assert result.summary.orders_updated == 1
    stored = item_rows(store)["21"]
    assert (stored["quantity"], stored["product_name"], stored["status"]) == (
        3,
        "Tour Tee",
        "pending",
    )
    assert order_rows(store)["1"]["ship_city"] == "Cambridge"


def test_reload_keeps_acknowledged_items_acknowledged(store, settings, tmp_path) -> None:
    """An item already exported stays acknowledged when its order is loaded again."""
    partners = list(settings.partners.values())
    load_orders(store, write_jsonl(tmp_path / "a.jsonl", [order(1)]), partners)
    export_partner(store, settings.partners["acme"], load_layout("default"), tmp_path, now=NOW)
    load_orders(
        store,
        write_jsonl(tmp_path / "b.jsonl", [order(1, items_=[item(21, quantity=2)])]),
        partners,
    )
    stored = item_rows(store)["21"]
    assert (stored["status"], stored["quantity"]) == ("acknowledged", 2)
    assert stored["first_exported_at"] is not None


def test_reload_never_unships(store, settings, tmp_path) -> None:
    """A shipped item keeps its status and shipping details whatever a reload says."""
    partners = list(settings.partners.values())
    load_orders(store, write_jsonl(tmp_path / "a.jsonl", [order(1)]), partners)
    with store.begin() as connection:
        connection.execute(
            update(items)
            .where(items.c.id == "21")
            .values(
                status="shipped",
                shipped_date=dt.date(2026, 11, 21),
                carrier="UPS",
                tracking_number="1Z5R89390357567127",
            )
        )
    for status in ("pending", "cancelled"):
        reload = order(1, items_=[item(21, status=status, quantity=9)])
        result = load_orders(store, write_jsonl(tmp_path / f"{status}.jsonl", [reload]), partners)
        assert result.summary.items_kept_shipped == 1
        stored = item_rows(store)["21"]
        assert stored["status"] == "shipped"
        assert stored["shipped_date"] == dt.date(2026, 11, 21)
        assert (stored["carrier"], stored["tracking_number"]) == ("UPS", "1Z5R89390357567127")
        assert stored["quantity"] == 1


def test_cancelled_items_are_never_exported(store, settings, tmp_path) -> None:
    """Cancelled at load, or cancelled by a later load, an item is left out of every export."""
    partners = list(settings.partners.values())
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [order(1, items_=[item(21), item(22, status="cancelled"), item(23)])],
    )
    load_orders(store, path, partners)
    acme = settings.partners["acme"]
    first = export_partner(store, acme, load_layout("default"), tmp_path / "1", now=NOW)
    assert _exported_ids(first.path) == ["21", "23"]
    load_orders(
        store,
        write_jsonl(
            tmp_path / "b.jsonl",
            [
                order(
                    1, items_=[item(21), item(22, status="cancelled"), item(23, status="cancelled")]
                )
            ],
        ),
        partners,
    )
    assert item_rows(store)["23"]["status"] == "cancelled"
    second = export_partner(store, acme, load_layout("default"), tmp_path / "2", now=NOW)
    assert _exported_ids(second.path) == ["21"]


def _exported_ids(path: Path) -> list[str]:
    import csv

    with path.open(encoding="utf-8", newline="") as handle:
        return [row["item_id"] for row in csv.DictReader(handle)]


def test_routing_by_sku_glob_else_default(store, settings, tmp_path) -> None:
    """AC-* warehouse SKUs go to 'ac' (any case), everything else to the default 'acme'."""
    path = write_jsonl(
        tmp_path / "route.jsonl",
        [
            order(
                1,
                items_=[
                    item(11, factory_sku="AC-100"),
                    item(12, factory_sku="ac-7"),
                    item(13, factory_sku="XAC-1"),
                    item(14, factory_sku="007"),
                ],
            )
        ],
    )
    result = load_orders(store, path, list(settings.partners.values()))
    partners = {key: row["partner"] for key, row in item_rows(store).items()}
    assert partners == {"11": "ac", "12": "ac", "13": "acme", "14": "acme"}
    assert result.routed == {"ac": 2, "acme": 2}
    assert result.unrouted == 0


def test_routing_matches_the_sku_id_too(tmp_path) -> None:
    """A glob matches the sku id when the warehouse sku does not."""
    settings = build_settings(
        {"partners": {"vinyl": {"skus": ["26", "LP-*"]}, "main": {"default": True}}}
    )
    partners = list(settings.partners.values())
    assert route(partners, "55665", "26") == "vinyl"
    assert route(partners, "LP-9", "1") == "vinyl"
    assert route(partners, "55665", "27") == "main"
    assert route(partners, "", "") == "main"


def test_items_without_a_partner_are_counted_unrouted(store, tmp_path) -> None:
    """With no default partner, items that match no glob are loaded without a partner."""
    settings = build_settings({"partners": {"ac": {"skus": ["AC-*"]}}})
    path = write_jsonl(
        tmp_path / "u.jsonl", [order(1, items_=[item(11, factory_sku="AC-1"), item(12)])]
    )
    result = load_orders(store, path, list(settings.partners.values()))
    assert result.unrouted == 1
    assert item_rows(store)["12"]["partner"] is None
    with store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(items)).scalar_one() == 2


def test_reload_routes_pending_items_again(store, tmp_path) -> None:
    """A pending item follows a changed config on reload (routing happens at load time)."""
    path = write_jsonl(tmp_path / "r.jsonl", [order(1, items_=[item(11, factory_sku="AC-1")])])
    first = build_settings({"partners": {"main": {"default": True}}})
    load_orders(store, path, list(first.partners.values()))
    assert item_rows(store)["11"]["partner"] == "main"
    second = build_settings({"partners": {"main": {"default": True}, "ac": {"skus": ["AC-*"]}}})
    load_orders(store, path, list(second.partners.values()))
    assert item_rows(store)["11"]["partner"] == "ac"


# ----------------------------------------------------------------------------- orders list


def test_list_filters_and_past_due(loaded_store, settings) -> None:
    """orders list: each filter selects its items; past_due means unshipped and ordered more
    than past_due_days (3) before now, per partner."""
    from ftpbridge.cli.render import list_orders

    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)

    def ids(**kwargs: Any) -> list[str]:
        rows = list_orders(loaded_store, settings, now=now, **kwargs)
        return [row["item_id"] for row in rows]

    every = ids(partner=None, status_filter="all")
    assert len(every) == 18
    assert ids(partner=None, status_filter="cancelled") == ["1018"]
    assert len(ids(partner=None, status_filter="not_shipped")) == 17
    assert ids(partner="ac", status_filter="all") == ["1003", "1012", "1013", "1017"]
    # Orders before 2026-11-17 12:00: orders 1-6 (items 1001-1009).
    assert ids(partner=None, status_filter="past_due") == [
        "1001",
        "1002",
        "1003",
        "1004",
        "1005",
        "1006",
        "1007",
        "1008",
        "1009",
    ]
    assert ids(partner="ac", status_filter="past_due") == ["1003"]
    lenient = build_settings(
        {"partners": {"acme": {"default": True, "past_due_days": 6}, "ac": {"skus": ["AC-*"]}}}
    )
    rows = list_orders(loaded_store, lenient, partner="acme", status_filter="past_due", now=now)
    assert [row["item_id"] for row in rows] == ["1001", "1002", "1004", "1005"]


def test_list_rows_are_plain_json_values(loaded_store, settings) -> None:
    """Identifiers are strings, dates ISO text or None, quantity an int."""
    from ftpbridge.cli.render import list_orders

    rows = list_orders(loaded_store, settings, partner=None, status_filter="all")
    row = next(row for row in rows if row["item_id"] == "1004")
    assert row["order_id"] == "3"
    assert row["warehouse_sku"] == "007"
    assert row["sku_id"] == "25"
    assert row["order_date"] == "2026-11-13T11:15:00Z"
    assert row["quantity"] == 1
    assert (row["shipped_date"], row["carrier"], row["tracking_number"]) == (None, None, None)
    json.dumps(rows)  # nothing in it needs a custom encoder


def test_list_formats_through_the_command(run_cli, loaded_store) -> None:
    """--format table/csv/json render the same items; an unknown partner is exit 2."""
    table = run_cli("orders", "list", "--partner", "ac")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "order_id",
        "item_id",
        "partner",
        "status",
        "order_date",
        "warehouse_sku",
        "quantity",
        "shipped_date",
        "carrier",
        "tracking_number",
    ]
    assert lines[-1] == "4 items"
    as_csv = run_cli("orders", "list", "--partner", "ac", "--format", "csv")
    records = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [record["item_id"] for record in records] == ["1003", "1012", "1013", "1017"]
    assert {record["shipped_date"] for record in records} == {""}
    as_json = run_cli("orders", "list", "--filter", "cancelled", "--format", "json")
    assert [item["item_id"] for item in json.loads(as_json.stdout)] == ["1018"]
    empty = run_cli("orders", "list", "--filter", "shipped")
    assert empty.stdout == "No items.\n"
    unknown = run_cli("orders", "list", "--partner", "nobody")
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("Error: no partner named 'nobody'")
