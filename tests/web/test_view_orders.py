"""View Orders (``/api/v1/order``) and one order by id, against a real ``ftpbridge serve``:
defaults and shape, every filter and term, pages and sorting, scope, the ways clients
send parameters, and set_acknowledged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ftpbridge.files.intake import load_orders
from ftpbridge.settings import load_settings
from ftpbridge.store.schema import files, items
from ftpbridge.web.schemas import OneOrderResponse, ViewOrdersResponse
from tests.web.conftest import Api, ship

TODAY = dt.datetime.now(dt.UTC).date()


def ids(body: dict[str, Any]) -> list[str]:
    return [order["id"] for order in body["response"]]


def item_ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for order in body["response"] for item in order["items"]]


def set_status(api: Api, item_id: str, status: str) -> None:
    with api.store.begin() as connection:
        connection.execute(items.update().where(items.c.id == item_id).values(status=status))


def add_recent_order(api: Api, config: Path, tmp_path: Path) -> None:
    """Order 13, placed now, with item 1019 for acme (not past due yet)."""
    path = tmp_path / "recent.jsonl"
    order = {
        "id": 13,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "fan": "Zoe@Example.com",
        "shipping_address": {"firstname": "Zoë", "lastname": "Okafor", "country": "NG"},
        "items": [
            {
                "id": 1019,
                "sku_id": 30,
                "product_id": "P-77",
                "product_name": "Enamel Pin Set",
                "factory_sku": "55999",
                "sku_upc": "22-2222-299",
            }
        ],
    }
    path.write_text(json.dumps(order) + "\n")
    load_orders(api.store, path, list(load_settings(config).partners.values()))


def test_no_parameters_gives_the_seed_defaults_and_shape(api: Api) -> None:
    """No parameters: filter contains_merch (the cancelled-only order 12 is left out), page
    1 of 250, newest order id first in natural order (11 before 9), in the seed's shape."""
    response = api.client().get("/api/v1/order")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    ViewOrdersResponse.model_validate(body)
    assert ids(body) == ["11", "10", "9", "8", "7", "6", "5", "4", "3", "2", "1"]
    assert (body["current_page"], body["page_size"], body["total_entries"]) == (1, 250, 11)
    assert (body["total_pages"], body["status"]) == (1, "ok")
    first = body["response"][-1]
    assert first["created_at"] == "2026-11-11"
    assert first["fan"] == "grace@example.com"
    assert first["shipping_address"]["postal_code"] == "SW1A 1AA"
    hoodie = first["items"][0]
    assert hoodie["id"] == "1001" and hoodie["sku_attributes"] == {"Size": "L", "Color": "Grey"}
    assert (hoodie["shipped"], hoodie["status"], hoodie["factory_sku"]) == (
        False,
        "pending",
        "55666",
    )


def test_every_filter(api: Api, config_file: Path, tmp_path: Path) -> None:
    """Each filter picks the items of its state (orders carry just those items)."""
    add_recent_order(api, config_file, tmp_path)
    ship(api.store, "1001", TODAY)
    set_status(api, "1002", "acknowledged")
    expected = {
        "all": {f"{n}" for n in range(1001, 1020)},
        "contains_merch": {f"{n}" for n in range(1001, 1020)} - {"1018"},
        "shipped": {"1001"},
        "not_shipped": {f"{n}" for n in range(1002, 1020)} - {"1018"},
        "acknowledged": {"1002"},
        "pending": {f"{n}" for n in range(1003, 1020)} - {"1018"},
        # Orders of November are past the 3 days; order 13 was placed now.
        "past_due": {f"{n}" for n in range(1002, 1018)},
    }
    for name, wanted in expected.items():
        body = api.view(filter=name)
        assert set(item_ids(body)) == wanted, name
        assert body["total_entries"] == len(body["response"]), name  # counted, not paged
        scoped = api.view("acme-wms", filter=name)  # counted with the partner's condition
        assert scoped["total_entries"] == len(scoped["response"]), name
    shipped = api.view(filter="shipped")["response"][0]["items"][0]
    assert shipped["shipped"] is True and shipped["shipping_date"] == TODAY.isoformat()
    assert (shipped["tracking_type"], shipped["tracking_code"]) == ("UPS", "1Z5R89390357567127")


@pytest.mark.parametrize(
    ("term", "value", "expected"),
    [
        ("order_id", "3", ["3"]),
        ("order_id", 3, ["3"]),
        ("order_date", "2026-11-13", ["3"]),
        ("order_date_before", "2026-11-13", ["2", "1"]),
        ("order_date_after", "2026-11-20", ["13", "12", "11"]),
        ("country", "ca", ["10", "6", "2"]),
        ("fan_email", "GRACE@example.com", ["11", "1"]),
        ("fan_email", "zoe@example.com", ["13"]),
        ("fan_first_name", "lin", ["12", "2"]),
        ("fan_last_name", "hopper", ["11", "1"]),
        ("shipping_first_name", "Zoë", ["13"]),
        ("shipping_last_name", "TORVALDS", ["12", "2"]),
        ("shipping_postal_code", "sw1a1aa", ["9", "5", "1"]),
        ("sku_id", "26", ["10", "6", "1"]),
        ("sku_id", 26, ["10", "6", "1"]),
        ("factory_sku", "AC-100", ["11", "9", "8", "2"]),
        ("sku_upc", "22-2222-224", ["5", "1"]),
        ("product_id", "P-77", ["13"]),
        ("product_description", "poster", ["11", "9", "8", "2"]),
        ("sku_attributes", "grey", ["5", "1"]),
        ("sku_attributes", {"Color": "Black", "Size": "M"}, ["12", "11", "9", "7", "5", "4", "3"]),
        ("order_ship_date", TODAY.isoformat(), ["1"]),
        ("order_ship_date_before", (TODAY + dt.timedelta(days=1)).isoformat(), ["1"]),
        ("order_ship_date_before", TODAY.isoformat(), []),
        ("order_ship_date_after", (TODAY - dt.timedelta(days=1)).isoformat(), ["1"]),
    ],
)
def test_every_term(
    api: Api, config_file: Path, tmp_path: Path, term: str, value: Any, expected: list[str]
) -> None:
    """Each term the store can answer narrows the orders (filter all, shop's key)."""
    add_recent_order(api, config_file, tmp_path)
    ship(api.store, "1001", TODAY)
    body = api.view(filter="all", terms=[[term, value]])
    assert ids(body) == expected
    assert body["total_entries"] == len(expected)


def test_terms_combine_and_take_the_other_shapes(api: Api) -> None:
    """Terms are ANDed; a {"key": value} object and the seed's "term" spelling work too."""
    both = api.view(filter="all", terms=[["country", "US"], ["sku_id", "28"]])
    assert ids(both) == ["11", "8"]
    assert ids(api.view(filter="all", terms={"country": "GB"})) == ["9", "5", "1"]
    assert ids(api.view(filter="all", term=["order_id", "4"])) == ["4"]


def test_pages_and_sorting(api: Api) -> None:
    """Pages count orders; past the last page is an empty list with the totals; sortcol
    order_date and sortdir asc order as asked; page 0 and a page_size over the maximum are
    refused with a reason naming them."""
    pages = [api.view(page=page, page_size=5) for page in (1, 2, 3, 4)]
    assert [ids(page) for page in pages] == [
        ["11", "10", "9", "8", "7"],
        ["6", "5", "4", "3", "2"],
        ["1"],
        [],
    ]
    assert all(page["total_entries"] == 11 and page["total_pages"] == 3 for page in pages)
    assert pages[3]["current_page"] == 4
    assert ids(api.view(page_size=3, sortdir="asc")) == ["1", "2", "3"]
    assert ids(api.view(page_size=2, sortcol="order_date", sortdir="ASC")) == ["1", "2"]
    assert len(ids(api.view(page_size=1000))) == 11
    client = api.client()
    for search, named in (
        ({"page": 0}, "page must be at least 1"),
        ({"page_size": 1001}, "page_size 1001 is over the maximum of 1,000"),
        ({"page": "two"}, "page must be a whole number"),
        ({"page_size": 2.5}, "page_size must be a whole number"),
        ({"sortcol": "total"}, "sortcol must be one of order_id, order_date"),
        ({"filter": "digital"}, "filter must be one of contains_merch"),
        ({"filter": 7}, "filter must be one of"),
    ):
        response = client.post("/api/v1/order", data={"search": json.dumps(search)})
        assert response.status_code == 400, search
        assert named in response.json()["reason"], response.json()
        assert response.json()["status"] == "error"


def test_a_partner_key_sees_only_its_partner(api: Api) -> None:
    """acme-wms never sees ac's items: order 2 (ac only) is absent from lists, from a
    search by its id and from GET by id (404, as for an order that does not exist); order
    9 shows acme's item only. ac-wms sees exactly its four items."""
    acme = api.view("acme-wms", filter="all")
    assert "2" not in ids(acme) and "8" not in ids(acme)
    order_9 = next(order for order in acme["response"] if order["id"] == "9")
    assert [item["id"] for item in order_9["items"]] == ["1014"]
    assert ids(api.view("acme-wms", terms=[["order_id", "2"]])) == []
    assert ids(api.view("acme-wms", terms=[["factory_sku", "AC-100"]])) == []
    assert sorted(item_ids(api.view("ac-wms", filter="all"))) == ["1003", "1012", "1013", "1017"]
    outside = api.client("acme-wms").get("/api/v1/orders/2")
    missing = api.client("acme-wms").get("/api/v1/orders/999")
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["reason"] == "there is no order '2'"
    inside = api.client("ac-wms").get("/api/v1/orders/2")
    assert inside.status_code == 200
    OneOrderResponse.model_validate(inside.json())
    assert [item["id"] for item in inside.json()["response"]["items"]] == ["1003"]


def test_parameters_arrive_however_the_client_sends_them(api: Api) -> None:
    """The same search as a form field, a query string (GET and POST), a JSON body under
    application/json, text/javascript (Topspin's Ruby client) or a form Content-Type,
    separate fields, and multipart: the same answer."""
    search = {"filter": "all", "terms": [["country", "CA"]], "page_size": 2}
    client = api.client()
    text = json.dumps(search)
    answers = [
        client.post("/api/v1/order", data={"search": text}),
        client.get("/api/v1/order", params={"search": text}),
        client.post("/api/v1/order", params={"search": text}),
        client.post("/api/v1/order", json={"search": search}),
        client.post("/api/v1/order", json={"search": text}),
        client.post(
            "/api/v1/order",
            content=json.dumps({"search": search}),
            headers={"content-type": "text/javascript"},
        ),
        client.post(
            "/api/v1/order",
            content=json.dumps({"search": search}),
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        client.post(
            "/api/v1/order",
            data={"filter": "all", "terms": json.dumps(search["terms"]), "page_size": "2"},
        ),
        client.post("/api/v1/order", files={"search": (None, text)}),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert ids(answer.json()) == ["10", "6"]
        assert answer.json()["total_entries"] == 3


def test_bad_requests_name_what_is_wrong(api: Api) -> None:
    """Bad JSON, a search that is not an object, unknown parameters, keys and terms, a term
    ftpbridge does not keep, a bad date: 400 with a reason naming it, never a traceback."""
    client = api.client()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"content": b'{"search": {"filter": "all",}}'}, "not valid JSON"),
        ({"data": {"search": "{filter: all}"}}, "search is not valid JSON"),
        ({"data": {"search": "[1, 2]"}}, "search must be a JSON object"),
        ({"data": {"serch": "{}"}}, "unknown parameter 'serch'"),
        ({"json": {"search": {"filtre": "all"}}}, "unknown key 'filtre' in search"),
        ({"json": {"search": {"terms": [["colour", "red"]]}}}, "unknown search term 'colour'"),
        ({"json": {"search": {"terms": [["spin_name", "x"]]}}}, "spin_name cannot be answered"),
        ({"json": {"search": {"terms": [["order_date", "13/11/2026"]]}}}, "not a date"),
        ({"json": {"search": {"terms": [["order_id", None]]}}}, "needs text or a whole number"),
        ({"json": {"search": {"terms": 5}}}, "terms must be a list of pairs"),
        ({"json": {"search": {"terms": "order_id=3"}}}, "terms is not valid JSON"),
        ({"json": {"set_acknowledged": "maybe"}}, "set_acknowledged must be true or false"),
        ({"json": [1, 2]}, "must be a JSON object"),
        ({"content": b"\xff\xfe"}, "not UTF-8"),
        ({"content": b"just some words"}, "neither JSON nor form fields"),
        ({"content": b"[" * 40 + b"]" * 40}, "deeper than 32 levels"),
        ({"content": b"[" * 5000 + b"]" * 5000}, "deeper than 32 levels"),
    ]
    for request, named in cases:
        response = client.post("/api/v1/order", **request)
        assert response.status_code == 400, (request, response.text)
        body = response.json()
        assert named in body["reason"], (named, body)
        assert body["status"] == "error"
    unknown = client.get("/api/v1/nothing")
    assert unknown.status_code == 404 and unknown.json()["status"] == "error"
    assert client.delete("/api/v1/order").status_code == 405
    assert "Traceback" not in api.service.log()


def test_set_acknowledged_marks_what_was_returned_like_an_export(api: Api) -> None:
    """set_acknowledged=true marks the returned items that wait to ship acknowledged in the
    read's transaction (first export time set), with one ledger row per partner, as an
    export does; the next read of pending no longer returns them. Read-only keys may not."""
    refused = api.client("acme-reader").post(
        "/api/v1/order", data={"search": '{"page_size": 2}', "set_acknowledged": "true"}
    )
    assert refused.status_code == 403
    assert "read-only" in refused.json()["reason"]
    body = (
        api.client("acme-wms")
        .post(
            "/api/v1/order",
            data={"search": '{"filter": "pending", "page_size": 2}', "set_acknowledged": "true"},
        )
        .json()
    )
    marked = item_ids(body)
    assert marked == ["1016", "1015"]
    assert {item["status"] for order in body["response"] for item in order["items"]} == {
        "acknowledged"
    }
    with api.store.connect() as connection:
        rows = connection.execute(
            select(items.c.id, items.c.status, items.c.first_exported_at).where(
                items.c.status == "acknowledged"
            )
        ).all()
        ledger = connection.execute(select(files)).mappings().all()
    assert sorted(row.id for row in rows) == ["1015", "1016"]
    assert all(row.first_exported_at is not None for row in rows)
    assert [(row["partner"], row["direction"], row["name"], row["state"], row["rows_total"])
            for row in ledger] == [("acme", "export", "api:acme-wms", "served", 2)]  # fmt: skip
    after = api.view("acme-wms", filter="pending")
    assert not set(marked) & set(item_ids(after))
    unchanged = api.view("acme-reader", filter="pending", page_size=1)
    assert item_ids(unchanged)[0] == "1014"  # reading without set_acknowledged changes nothing
