"""The SKU API against a real ``ftpbridge serve``, on SQLite and PostgreSQL: View SKUs'
shape and filters, Update SKUs as Topspin documents it and as its client sends it, add and
remove (never below zero, atomic under 100 parallel calls), scope and read-only keys.

The store holds examples/orders.jsonl's SKUs: 25, 26, 27 (acme) and 28 (ac, warehouse
SKU AC-100)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from ftpbridge.store.schema import skus, stock_changes
from ftpbridge.store.sku_catalogue import upsert_catalogue
from ftpbridge.web.schemas import SkuChangeResponse, ViewSkusResponse
from tests.web.conftest import Api

SCRIPT = Path(__file__).with_name("curl_skus.sh")


def view(api: Api, key: str = "shop", **params: Any) -> dict[str, Any]:
    response = api.client(key).post("/api/v1/sku", data=params)
    assert response.status_code == 200, response.text
    body = response.json()
    ViewSkusResponse.model_validate(body)
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [sku["id"] for sku in body["response"]["skus"]]


def in_stock(api: Api, sku_id: str) -> int:
    with api.store.connect() as connection:
        value = connection.execute(
            select(skus.c.in_stock_quantity).where(skus.c.id == sku_id)
        ).scalar_one()
    return int(value)


def test_view_skus_in_the_seeds_shape(api: Api) -> None:
    """Every SKU in natural id order with the seed's fields: quantities, sold quantities
    summed from the items, attributes as an object, weight in US and SI units, available
    as 1/0; an empty body and GET work the same."""
    api.client().post(
        "/api/v1/sku/update",
        data={"id": "27", "weight": "1.5", "weight_unit": "lb", "in_stock_quantity": "10"},
    )
    body = view(api)
    assert body["status"] == "ok"
    assert ids(body) == ["25", "26", "27", "28"]
    assert (body["total_entries"], body["current_page"], body["total_pages"]) == (4, 1, 1)
    hoodie = next(sku for sku in body["response"]["skus"] if sku["id"] == "27")
    assert hoodie["attributes"] == {"Size": "L", "Color": "Grey"}
    assert hoodie["weight"] == {"US": "1.5 lb", "SI": "680.39 g"}
    assert (hoodie["available"], hoodie["in_stock_quantity"]) == (1, 10)
    assert hoodie["sold_unshipped_quantity"] == 2 and hoodie["sold_shipped_quantity"] == 0
    assert hoodie["factory_sku"] == "55666"
    assert api.client().get("/api/v1/sku").json()["response"] == body["response"]


def test_updated_after_campaigns_and_pages(api: Api) -> None:
    """updated_after keeps SKUs changed on or after the day; campaign_id those sold in
    the campaigns named; page_size pages; a bad date is a 400 naming the parameter."""
    today = dt.datetime.now(dt.UTC).date()
    assert ids(view(api, updated_after=today.isoformat())) == ["25", "26", "27", "28"]
    assert ids(view(api, updated_after=(today + dt.timedelta(days=1)).isoformat())) == []
    with api.store.begin() as connection:
        upsert_catalogue(
            connection,
            [{"id": "26", "campaign_ids": ("1005",)}, {"id": "28", "campaign_ids": ("77",)}],
            source="test",
            now=dt.datetime.now(dt.UTC),
        )
    assert ids(view(api, campaign_id="1005,77")) == ["26", "28"]
    assert ids(view(api, campaign_id="1005")) == ["26"]
    second = view(api, page="2", page_size="3")
    assert ids(second) == ["28"] and second["total_pages"] == 2
    bad = api.client().post("/api/v1/sku", data={"updated_after": "01/12/2026"})
    assert bad.status_code == 400
    assert bad.json()["reason"] == "updated_after must be a date YYYY-MM-DD, not '01/12/2026'"


def test_a_partners_key_sees_and_changes_only_its_skus(api: Api) -> None:
    """ac's key sees SKU 28 only and gets 404 for acme's; the read-only key reads but may
    not change (403)."""
    assert ids(view(api, "ac-wms")) == ["28"]
    assert ids(view(api, "acme-reader")) == ["25", "26", "27"]
    refused = api.client("ac-wms").post("/api/v1/sku/add", data={"id": "27", "quantity": "1"})
    assert refused.status_code == 404
    assert refused.json()["reason"] == "there is no SKU '27'"
    read_only = api.client("acme-reader").post(
        "/api/v1/sku/add", data={"id": "27", "quantity": "1"}
    )
    assert read_only.status_code == 403
    assert in_stock(api, "27") == 0


def test_update_skus_as_documented_and_as_topspins_client_sends_it(api: Api) -> None:
    """The seed's form example, a JSON body, and Topspin's client's ``quantity``: each sets
    what it gives and audits stock changes with the key's name; mistakes are 400s naming
    the parameter."""
    client = api.client("acme-wms")
    documented = client.post(
        "/api/v1/sku/update", data={"id": "27", "available": "false", "factory_sku": "ABCDEFG"}
    )
    assert documented.status_code == 200, documented.text
    SkuChangeResponse.model_validate(documented.json())
    assert documented.json()["response"]["modified"] == 1
    as_json = client.post(
        "/api/v1/sku/update",
        content=json.dumps({"id": 27, "quantity": 12, "reserve_quantity": 2}),
        headers={"Content-Type": "text/javascript"},
    )
    assert as_json.status_code == 200, as_json.text
    hoodie = next(sku for sku in view(api)["response"]["skus"] if sku["id"] == "27")
    assert (hoodie["available"], hoodie["factory_sku"]) == (0, "ABCDEFG")
    assert (hoodie["in_stock_quantity"], hoodie["reserve_quantity"]) == (12, 2)
    with api.store.connect() as connection:
        audit = connection.execute(
            select(stock_changes.c.source, stock_changes.c.new_in_stock_quantity).where(
                stock_changes.c.sku_id == "27"
            )
        ).all()
    assert [tuple(row) for row in audit] == [("api:acme-wms", 12)]
    for data, reason in (
        ({"id": "27"}, "nothing to update"),
        ({"id": "27", "weight": "2"}, "weight needs weight_unit"),
        ({"id": "27", "weight": "2", "weight_unit": "stone"}, "weight_unit must be one of"),
        ({"id": "27", "in_stock_quantity": "-1"}, "in_stock_quantity must be a whole number"),
        ({"id": "27", "quantity": "3", "in_stock_quantity": "4"}, "disagree"),
        ({"id": "27", "colour": "red"}, "unknown parameter 'colour'"),
        ({"available": "true"}, "id (the SKU's id) is required"),
    ):
        response = client.post("/api/v1/sku/update", data=data)
        assert response.status_code == 400, (data, response.text)
        assert reason in response.json()["reason"], response.json()
    assert (
        client.post("/api/v1/sku/update", data={"id": "nope", "available": "1"}).status_code == 404
    )


def test_remove_never_goes_below_zero(api: Api) -> None:
    """add 5 then remove 3 leaves 2; removing 3 more is refused with 422 naming what is in
    stock, and nothing changes; quantity 0 is a 400."""
    client = api.client()
    assert client.post("/api/v1/sku/add", data={"id": "26", "quantity": "5"}).json()[
        "response"
    ] == {"id": "26", "modified": 1, "in_stock_quantity": 5}
    assert client.post("/api/v1/sku/remove", json={"id": "26", "quantity": 3}).status_code == 200
    refused = client.post("/api/v1/sku/remove", data={"id": "26", "quantity": "3"})
    assert refused.status_code == 422
    assert refused.json()["reason"] == (
        "SKU 26 has 2 in stock; removing 3 would go below zero; nothing was changed"
    )
    assert in_stock(api, "26") == 2
    zero = client.post("/api/v1/sku/add", data={"id": "26", "quantity": "0"})
    assert zero.status_code == 400 and "quantity must be at least 1" in zero.json()["reason"]


def test_100_parallel_additions_end_exactly_100_higher(api: Api) -> None:
    """100 ``add 1`` calls at once over HTTP (the service's worker threads take them side
    by side): the stock ends exactly 100 higher, with 100 audit rows whose before/after
    chain from 7 to 107 without a gap or a repeat."""
    client = api.client("acme-wms")
    client.post("/api/v1/sku/update", data={"id": "25", "in_stock_quantity": "7"})
    start = threading.Barrier(100)
    answers: list[int] = []

    def add() -> None:
        with httpx.Client(
            base_url=api.service.url, auth=("wms", api.keys["acme-wms"]), timeout=120
        ) as own:
            start.wait()
            answers.append(
                own.post("/api/v1/sku/add", data={"id": "25", "quantity": "1"}).status_code
            )

    threads = [threading.Thread(target=add) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert answers == [200] * 100
    assert in_stock(api, "25") == 107
    with api.store.connect() as connection:
        chain = connection.execute(
            select(stock_changes.c.old_in_stock_quantity, stock_changes.c.new_in_stock_quantity)
            .where(stock_changes.c.sku_id == "25", stock_changes.c.source == "api:acme-wms")
            .order_by(stock_changes.c.new_in_stock_quantity)
        ).all()
    assert [tuple(row) for row in chain[1:]] == [(value, value + 1) for value in range(7, 107)]


def test_the_readme_curl_lines(api: Api) -> None:
    """tests/web/curl_skus.sh runs the README's SKU API curl lines with the real curl."""
    finished = subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "API": api.service.url, "KEY": api.keys["acme-wms"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == "curl skus: ok"
