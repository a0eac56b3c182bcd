"""Update Orders (``/api/v1/order/update``) and ``batch_update`` against a real ``ftpbridge
serve``: the fulfiller's whole day, the file rules on every item, all or nothing, scope,
read-only keys, the 15-day lock, the audit trail, and a 10,000-item update."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ftpbridge.files.intake import load_orders
from ftpbridge.settings import load_settings
from ftpbridge.store.schema import audit, item_changes, items
from ftpbridge.web.schemas import ErrorResponse, UpdateResponse
from tests.web.conftest import UPS, Api, ship

TODAY = dt.datetime.now(dt.UTC).date()
FEDEX = "986578788855"
DHL = "3318810025"


def update(api: Api, orders: list[dict[str, Any]], key: str = "acme-wms", **extra: Any) -> Any:
    return api.client(key).post("/api/v1/order/update", json={"orders": orders, **extra})


def shipped_item(item_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "status": "shipped",
        "shipping_date": TODAY.isoformat(),
        "tracking_type": "UPS",
        "tracking_code": UPS,
        **fields,
    }


def state(api: Api, item_id: str) -> tuple[Any, ...]:
    with api.store.connect() as connection:
        row = connection.execute(
            select(
                items.c.status, items.c.shipped_date, items.c.carrier, items.c.tracking_number
            ).where(items.c.id == item_id)
        ).one()
    return (row.status, str(row.shipped_date) if row.shipped_date else None, row.carrier,
            row.tracking_number)  # fmt: skip


def test_a_fulfillers_day_fetch_acknowledge_ship_and_see_them_shipped(api: Api) -> None:
    """What the issue's "done" asks, with a key scoped to acme: fetch not_shipped with
    set_acknowledged, push tracking for them (Topspin's body), and see them shipped; each
    change is in the audit trail with the key's name as its source."""
    client = api.client("acme-wms")
    fetched = client.post(
        "/api/v1/order",
        data={"search": '{"filter": "not_shipped", "page_size": 3}', "set_acknowledged": "true"},
    ).json()
    orders = [
        {"id": order["id"], "items": [shipped_item(item["id"]) for item in order["items"]]}
        for order in fetched["response"]
    ]
    shipped_ids = sorted(item["id"] for order in orders for item in order["items"])
    assert shipped_ids == ["1014", "1015", "1016"]
    answer = update(api, orders)
    assert answer.status_code == 200, answer.text
    UpdateResponse.model_validate(answer.json())
    assert answer.json() == {
        "response": {"email": 0, "modified": 1, "items_modified": 3},
        "status": "ok",
    }
    seen = api.view("acme-wms", filter="shipped")
    assert sorted(i["id"] for o in seen["response"] for i in o["items"]) == shipped_ids
    assert all(i["shipped"] for o in seen["response"] for i in o["items"])
    with api.store.connect() as connection:
        trail = connection.execute(
            select(audit.c.item_id, audit.c.field, audit.c.old_value, audit.c.new_value,
                   audit.c.source, audit.c.changed_at).where(audit.c.item_id == "1016")
            .order_by(audit.c.id, audit.c.position)
        ).all()  # fmt: skip
    assert [(row.field, row.old_value, row.new_value) for row in trail] == [
        ("status", "acknowledged", "shipped"),
        ("shipped_date", None, TODAY.isoformat()),
        ("carrier", None, "UPS"),
        ("tracking_number", None, UPS),
    ]
    assert {row.source for row in trail} == {"api:acme-wms"}
    assert all(row.changed_at is not None for row in trail)
    again = update(api, orders)  # the same details again: nothing to change
    assert again.json()["response"] == {"email": 0, "modified": 0, "items_modified": 0}


def test_a_refused_item_changes_nothing_and_is_named_with_its_rule(api: Api) -> None:
    """One good item and refused ones in one request: 422, nothing applied, each refused
    item named with its order and the rule, in API words."""
    cases = [
        ("1", "1002", {"tracking_type": "Pigeon Post"}, "tracking_type 'Pigeon Post' is unknown"),
        ("3", "1004", {"tracking_code": "1Z5R89390357567128"}, "check digit"),
        ("3", "1005", {"shipping_date": "2999-01-01"}, "shipping_date 2999-01-01 is in the future"),
        ("4", "1006", {"shipping_date": "01/02"}, "shipping_date '01/02' is not a date"),
        ("5", "1007", {"tracking_code": "1.23457E+21"}, "damaged by a spreadsheet"),
        ("5", "1008", {"shipping_date": None}, "shipping_date is empty"),
    ]
    orders = [{"id": "1", "items": [shipped_item("1001")]}] + [
        {"id": order_id, "items": [shipped_item(item_id, **fields)]}
        for order_id, item_id, fields, _rule in cases
    ]
    answer = update(api, orders, key="shop")
    assert answer.status_code == 422, answer.text
    body = answer.json()
    ErrorResponse.model_validate(body)
    assert body["reason"].startswith("6 items refused; nothing was changed: order 1, item 1002:")
    assert len(body["errors"]) == 6
    for (order_id, item_id, _fields, rule), error in zip(cases, body["errors"], strict=True):
        assert (error["order_id"], error["item_id"]) == (order_id, item_id)
        assert rule in error["reason"], error
    assert state(api, "1001") == ("pending", None, None, None)


def test_the_other_rules_of_an_update(api: Api) -> None:
    """tracking_type without tracking_code; tracking given without a status for an item
    not shipped; an item of another order; un-shipping; a cancelled item."""
    ship(api.store, "1001", TODAY)
    cases = [
        ("3", shipped_item("1004", tracking_code=None), "must be sent together"),
        ("3", {"id": "1005", "tracking_type": "UPS", "tracking_code": UPS}, "without"),
        ("9", shipped_item("1004"), "item 1004 belongs to order 3, not 9"),
        ("1", {"id": "1001", "status": "pending"}, "an update cannot un-ship it"),
        ("12", shipped_item("1018"), "cancelled by the shop"),
    ]
    for order_id, item, rule in cases:
        answer = update(api, [{"id": order_id, "items": [item]}], key="shop")
        assert answer.status_code == 422, (item, answer.text)
        assert rule in answer.json()["reason"], (rule, answer.json())
        assert f"order {order_id}, item {item['id']}:" in answer.json()["reason"]
    assert state(api, "1001")[0] == "shipped"


def test_scope_read_only_and_unknown_items(api: Api) -> None:
    """acme's key updating ac's item gets 404 as for an item that does not exist, and
    changes nothing; a read-only key gets 403."""
    outside = update(api, [{"id": "2", "items": [shipped_item("1003")]}])
    missing = update(api, [{"id": "2", "items": [shipped_item("9999")]}])
    assert outside.status_code == missing.status_code == 404
    assert (
        outside.json()["errors"][0]["reason"]
        == "no item 1003 in order 2 is known; check order_id and item_id"
    )
    assert state(api, "1003") == ("pending", None, None, None)
    reader = update(api, [{"id": "1", "items": [shipped_item("1001")]}], key="acme-reader")
    assert reader.status_code == 403 and "read-only" in reader.json()["reason"]
    assert state(api, "1001")[0] == "pending"
    own = update(api, [{"id": "2", "items": [shipped_item("1003")]}], key="ac-wms")
    assert own.status_code == 200 and state(api, "1003")[0] == "shipped"


def test_the_15_day_lock_and_corrections(api: Api) -> None:
    """A shipment may be corrected within edit_window_days (15) of its date, with the old
    and new values audited; after that it is locked."""
    ship(api.store, "1001", TODAY - dt.timedelta(days=3))
    ship(api.store, "1002", TODAY - dt.timedelta(days=16))
    corrected = update(
        api,
        [{"id": "1", "items": [{"id": "1001", "tracking_type": "FedEx", "tracking_code": FEDEX}]}],
    )
    assert corrected.status_code == 200, corrected.text
    assert state(api, "1001") == (
        "shipped",
        (TODAY - dt.timedelta(days=3)).isoformat(),
        "FEDEX",
        FEDEX,
    )
    locked = update(
        api, [{"id": "1", "items": [{"id": "1002", "tracking_type": "DHL", "tracking_code": DHL}]}]
    )
    assert locked.status_code == 422
    assert "locked: the item shipped on" in locked.json()["reason"]
    assert "more than 15 days ago" in locked.json()["reason"]
    with api.store.connect() as connection:
        change = (
            connection.execute(select(item_changes).where(item_changes.c.source == "api:acme-wms"))
            .mappings()
            .one()
        )
    assert (change["old_carrier"], change["new_carrier"]) == ("UPS", "FEDEX")


def test_email_on_update_is_recorded_with_the_change(api: Api) -> None:
    """email_on_update=true (in the query string, as Topspin documents it) is kept with
    each change; the answer says no e-mail was sent (email 0)."""
    answer = api.client("acme-wms").post(
        "/api/v1/order/update?email_on_update=true",
        json={"orders": [{"id": "1", "items": [shipped_item("1001")]}]},
    )
    assert answer.json()["response"]["email"] == 0
    with api.store.connect() as connection:
        flags = connection.execute(select(item_changes.c.email_requested)).scalars().all()
    assert flags == [True]


def test_malformed_updates_are_400_naming_the_place(api: Api) -> None:
    """Wrong types, unknown fields, the same item twice, bad JSON: 400 naming where."""
    client = api.client("shop")
    cases = [
        ({"json": {"orders": {}}}, "orders must be a non-empty list"),
        ({"json": {"orders": [{"id": 1.5, "items": []}]}}, "orders[0].id must be text"),
        ({"json": {"orders": [{"id": 1, "items": []}]}}, "orders[0].items must be a non-empty"),
        ({"json": {"orders": [{"id": 1, "items": [{"id": 1001, "colour": "red"}]}]}},
         "orders[0].items[0]: unknown field 'colour'"),
        ({"json": {"orders": [{"id": 1, "items": [{"id": 1001, "status": "sent"}]}]}},
         'orders[0].items[0].status must be "shipped" or "pending"'),
        ({"json": {"orders": [{"id": 1, "items": [{"id": 1001, "tracking_code": ["x"]}]}]}},
         "orders[0].items[0].tracking_code must be text"),
        ({"json": {"orders": [{"id": 1, "items": [{"id": 1001}, {"id": "1001"}]}]}},
         "item 1001 appears twice"),
        ({"json": {"orders": [], "notify": True}}, "unknown parameter 'notify'"),
        ({"content": b'{"orders": [}'}, "not valid JSON"),
        ({"data": {"orders": "[{]"}}, "orders is not valid JSON"),
    ]  # fmt: skip
    for request, named in cases:
        answer = client.post("/api/v1/order/update", **request)
        assert answer.status_code == 400, (request, answer.text)
        assert named in answer.json()["reason"], (named, answer.json())
    form = client.put(
        "/api/v1/order/update",
        data={"orders": json.dumps([{"id": 1, "items": [shipped_item("1001")]}])},
    )
    assert form.status_code == 200, form.text  # PUT, and orders as a form field
    assert client.get("/api/v1/order/update").status_code == 405


def test_batch_update_applies_to_every_item_of_a_search_or_none(api: Api) -> None:
    """batch_update ships every item a search finds in the key's scope, under the same
    rules; one refused item (cancelled) refuses the batch."""
    client = api.client("acme-wms")
    fields = {"shipped": "shipped", "shipping_date": TODAY.isoformat(),
              "tracking_type": "UPS", "tracking_code": UPS}  # fmt: skip
    answer = client.post(
        "/api/v1/order/batch_update",
        data={**fields, "search": json.dumps({"terms": [["order_id", "9"]]})},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"]["items_modified"] == 1  # 1013 is ac's, not acme's
    assert state(api, "1014")[0] == "shipped" and state(api, "1013")[0] == "pending"
    refused = client.post(
        "/api/v1/order/batch_update",
        json={**fields, "search": {"filter": "all", "terms": [["order_id", "12"]]}},
    )
    assert refused.status_code == 422 and "cancelled" in refused.json()["reason"]
    everything = api.client("shop").post(
        "/api/v1/order/batch_update",
        json={**fields, "search": {"filter": "all", "terms": [["country", "US"]]}},
    )
    assert everything.status_code == 422  # order 12's item is cancelled: none is shipped
    assert "order 12, item 1018" in everything.json()["reason"]
    assert state(api, "1004")[0] == "pending"
    no_search = client.post("/api/v1/order/batch_update", json=fields)
    assert no_search.status_code == 400 and "needs a search" in no_search.json()["reason"]


def test_ten_thousand_items_in_one_update(api: Api, config_file: Path, tmp_path: Path) -> None:
    """5,000 orders of 2 items loaded; one update ships all 10,000 in one transaction."""
    path = tmp_path / "many.jsonl"
    with path.open("w") as handle:
        for number in range(5_000):
            handle.write(
                json.dumps(
                    {
                        "id": f"B{number}",
                        "created_at": "2026-11-30T10:00:00Z",
                        "items": [
                            {"id": f"B{number}-1", "factory_sku": "55665"},
                            {"id": f"B{number}-2", "factory_sku": "55666"},
                        ],
                    }
                )
                + "\n"
            )
    load_orders(api.store, path, list(load_settings(config_file).partners.values()))
    orders = [
        {"id": f"B{number}", "items": [shipped_item(f"B{number}-1"), shipped_item(f"B{number}-2")]}
        for number in range(5_000)
    ]
    answer = update(api, orders)
    assert answer.status_code == 200, answer.text[:500]
    assert answer.json()["response"]["items_modified"] == 10_000
    with api.store.connect() as connection:
        shipped = connection.execute(
            select(items.c.id).where(items.c.status == "shipped", items.c.id.like("B%"))
        ).all()
        changes = connection.execute(select(item_changes.c.id)).all()
    assert len(shipped) == 10_000 and len(changes) == 10_000
