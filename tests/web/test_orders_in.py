"""Orders in: ``POST /api/v1/orders`` against ``ftpbridge serve``, and the drop folder
``[orders] inbox`` polled by ``ftpbridge run`` (which then serves the API too, and stops
on SIGTERM with a request in flight answered and exit 0)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import signal
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from ftpbridge.store.schema import files, items, orders
from ftpbridge.web.schemas import ErrorResponse, OrdersInResponse
from tests.servers import wait_for
from tests.web.conftest import Api, ServeProcess, make_keys, ship


def order(order_id: Any, *item_ids: Any, **item_fields: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "created_at": "2026-11-30T10:00:00Z",
        "fan": "fan@example.com",
        "shipping_address": {"firstname": "Ada", "lastname": "Lovelace", "country": "GB"},
        "items": [{"id": item, "factory_sku": "55665", **item_fields} for item in item_ids],
    }


def test_orders_go_in_once_and_never_un_ship(api: Api) -> None:
    """One order, then a list: new ones are loaded and routed; the same order again
    changes nothing; a changed one updates it; a shipped item stays shipped."""
    client = api.client("shop")
    first = client.post("/api/v1/orders", json=order(100, 2001))
    assert first.status_code == 200, first.text
    OrdersInResponse.model_validate(first.json())
    assert first.json()["response"] | {"unrouted": 0} == {
        "orders": 1,
        "orders_new": 1,
        "orders_updated": 0,
        "items": 1,
        "items_new": 1,
        "items_updated": 0,
        "items_kept_shipped": 0,
        "unrouted": 0,
    }
    again = client.post("/api/v1/orders", json=[order(100, 2001)]).json()["response"]
    assert (again["orders_new"], again["orders_updated"], again["items_new"]) == (0, 0, 0)
    assert again["items_updated"] == 0
    renamed = client.post(
        "/api/v1/orders", json=[order(100, 2001, product_name="Hoodie (2nd edition)")]
    )
    assert renamed.json()["response"]["items_updated"] == 1
    ship(api.store, "2001", dt.date(2026, 11, 30))
    kept = client.post("/api/v1/orders", json={"orders": [order(100, 2001, status="pending")]})
    assert kept.json()["response"]["items_kept_shipped"] == 1
    with api.store.connect() as connection:
        row = connection.execute(
            select(items.c.status, items.c.partner, items.c.product_name).where(
                items.c.id == "2001"
            )
        ).one()
    assert tuple(row) == ("shipped", "acme", "Hoodie (2nd edition)")


def test_every_bad_order_is_listed_and_nothing_is_loaded(api: Api) -> None:
    """A list with good and bad orders: 422, each bad one with its index and field, and not
    even the good ones are loaded."""
    sent = [
        order(200, 3001),
        order(201, 3002, quantity="many"),
        {**order(202, 3003), "created_at": "yesterday"},
        order(203, 3001),
        "not an order",
    ]
    answer = api.client("shop").post("/api/v1/orders", json=sent)
    assert answer.status_code == 422
    body = answer.json()
    ErrorResponse.model_validate(body)
    assert body["reason"].startswith("4 orders refused; nothing was loaded: orders[1]: items[1]:")
    assert [(e["index"], e["order_id"], e["field"]) for e in body["errors"]] == [
        (1, "201", "items[1].quantity"),
        (2, "202", "created_at"),
        (3, "203", "items"),
        (4, None, None),
    ]
    assert "item 3001 already appears at orders[0]" in body["errors"][2]["reason"]
    with api.store.connect() as connection:
        assert connection.execute(select(orders.c.id).where(orders.c.id == "200")).first() is None


def test_who_may_send_orders_and_how(api: Api) -> None:
    """Only the shop's key (no partner) may; a read-only key may not; the body must be
    JSON; a View Orders answer can be sent back as it is (the same orders, unchanged)."""
    partner = api.client("acme-wms").post("/api/v1/orders", json=order(300, 4001))
    assert partner.status_code == 403 and "only the shop's key" in partner.json()["reason"]
    assert (
        api.client("acme-reader").post("/api/v1/orders", json=order(300, 4001)).status_code == 403
    )
    form = api.client("shop").post("/api/v1/orders", data={"orders": "[]"})
    assert form.status_code == 400 and "takes a JSON body" in form.json()["reason"]
    view = api.client("shop").get("/api/v1/order").json()
    back = api.client("shop").post("/api/v1/orders", json=view)
    assert back.status_code == 200, back.text
    summary = back.json()["response"]
    assert (summary["orders"], summary["orders_new"], summary["orders_updated"]) == (11, 0, 0)
    assert summary["items_updated"] == 0


def _drop(folder: Path, name: str, text: str) -> None:
    """Write a file into the inbox as an uploader would: a temporary name, then a rename."""
    temporary = folder / f".{name}.tmp"
    temporary.write_text(text, encoding="utf-8")
    temporary.rename(folder / name)


def test_run_polls_the_inbox_serves_the_api_and_stops_cleanly(
    loaded_store, config_file: Path
) -> None:
    """ftpbridge run with [api] listen and [orders] inbox: JSON Lines and a Topspin
    response are loaded once and moved to done/ with a report; the same content again is
    recognised; a bad file goes to errors/ with every problem; the API answers meanwhile;
    SIGTERM with a request half sent: it is answered, and run exits 0."""
    keys = make_keys(loaded_store)
    inbox = config_file.parent / "inbox"
    inbox.mkdir()
    config_file.write_text(
        config_file.read_text()
        + '\n[api]\nlisten = "127.0.0.1:0"\n'
        + '\n[orders]\ninbox = "inbox"\npoll_interval = 0.2\nsettle_seconds = 0\n'
    )
    run = ServeProcess(config_file, command="run")
    try:
        _drop(inbox, "orders-1.jsonl", json.dumps(order(500, 5001)) + "\n")
        wait_for(lambda: (inbox / "done" / "orders-1.jsonl.report.txt").exists(), "the load")
        report = (inbox / "done" / "orders-1.jsonl.report.txt").read_text()
        assert "loaded 1 order (1 new, 0 updated) with 1 item" in report
        response = {"response": [order(501, 5002), order(502, 5003)], "status": "ok"}
        _drop(inbox, "topspin.json", json.dumps(response))
        wait_for(lambda: (inbox / "done" / "topspin.json").exists(), "the Topspin file")
        _drop(inbox, "orders-1-again.jsonl", json.dumps(order(500, 5001)) + "\n")
        wait_for(lambda: (inbox / "done" / "orders-1-again.jsonl").exists(), "the repeat")
        again = (inbox / "done" / "orders-1-again.jsonl.report.txt").read_text()
        assert "was already loaded" in again and "as orders-1.jsonl" in again
        _drop(inbox, "bad.jsonl", json.dumps(order(503, 5004)) + "\n{oops\n")
        wait_for(lambda: (inbox / "errors" / "bad.jsonl").exists(), "the bad file")
        problems = (inbox / "errors" / "bad.jsonl.report.txt").read_text()
        assert "1 invalid line; nothing was loaded" in problems
        assert "line 2: not valid JSON" in problems
        with loaded_store.connect() as connection:
            ledger = connection.execute(
                select(files.c.name, files.c.direction, files.c.state).order_by(files.c.id)
            ).all()
            loaded = connection.execute(
                select(orders.c.id).where(orders.c.id.in_(["500", "501", "502", "503"]))
            ).scalars()
            assert sorted(loaded) == ["500", "501", "502"]
        assert [tuple(row) for row in ledger] == [
            ("orders-1.jsonl", "orders", "applied"),
            ("topspin.json", "orders", "applied"),
            ("bad.jsonl", "orders", "rejected"),
        ]
        auth = ("x", keys["shop"])
        assert httpx.get(run.url + "/api/v1/orders/500", auth=auth).status_code == 200
        _stop_with_a_request_in_flight(run, keys["shop"])
        events = [event.get("event") for event in run.events()]
        assert "ftpbridge stopped" in events and "ftpbridge stopped serving" in events
        assert "Traceback" not in run.log()
    finally:
        run.close()


def _stop_with_a_request_in_flight(run: ServeProcess, key: str) -> None:
    parts = urlsplit(run.url)
    body = json.dumps({"search": {"filter": "all", "page_size": 1}}).encode()
    credentials = base64.b64encode(f"x:{key}".encode()).decode()
    head = (
        f"POST /api/v1/order HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Basic {credentials}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as client:
        client.sendall(head + body[:5])
        wait_for(
            lambda: sum(e.get("event") == "request" for e in run.events()) >= 1,
            "an earlier request to be logged",
        )
        run.process.send_signal(signal.SIGTERM)
        wait_for(
            lambda: any(e.get("event") == "Shutting down" for e in run.events()),
            "the HTTP service to begin its shutdown",
        )
        client.sendall(body[5:])
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert run.process.wait(timeout=40) == 0
