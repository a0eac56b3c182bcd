"""The webhook against a real receiver process that fails on purpose: what is sent and
signed, what counts as delivered, retried or refused, backoff and Retry-After, giving up,
oldest first per order, batches. The sender's clock is moved on by the tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select

from ftpbridge.notify.sender import FIRST_RETRY_SECONDS, JITTER_SECONDS, backoff_seconds
from ftpbridge.store import Store
from ftpbridge.store.outbox import Event, pending
from ftpbridge.store.schema import outbox
from tests.notify.conftest import NOW, SECRET, UPS, Clock, Receiver, sender_for, ship
from tests.servers import wait_for


def states(store: Store) -> list[tuple[str, str, int]]:
    """(item, state, attempts) of every webhook event, oldest first."""
    with store.connect() as connection:
        rows = connection.execute(
            select(outbox.c.item_id, outbox.c.state, outbox.c.attempts).order_by(outbox.c.id)
        )
        return [tuple(row) for row in rows]


def event(store: Store, item_id: str) -> Event:
    with store.connect() as connection:
        row = connection.execute(select(outbox).where(outbox.c.item_id == item_id)).mappings().one()
    return Event(**row)


def test_a_files_shipments_reach_the_receiver_signed_and_are_marked_delivered(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """Two items of order 1 and one of order 3, from one file: one POST with the three
    events in order, every documented field, a tracking URL for UPS, JSON, a signature
    over "t.body" with the secret; all three delivered, none left pending."""
    file_id = ship(loaded_store, tmp_path, [("1", "1001"), ("1", "1002"), ("3", "1004")],
                   name="orders_updated_7.csv")  # fmt: skip
    sender = sender_for(loaded_store, receiver.url, clock)
    report = sender.send_once()
    sender.close()
    assert (report.delivered, report.retrying, report.dead) == (3, 0, 0)
    [request] = receiver.requests()
    assert request["content_type"] == "application/json"
    assert request["user_agent"].startswith("ftpbridge/")
    body = json.loads(request["body"])
    assert [item["item_id"] for item in body["events"]] == ["1001", "1002", "1004"]
    first = body["events"][0]
    assert first == {
        "id": event(loaded_store, "1001").event_id,
        "type": "item.shipped",
        "created_at": "2026-11-23T12:00:00Z",
        "partner": "acme",
        "order_id": "1",
        "item_id": "1001",
        "status": "shipped",
        "shipped_date": "2026-11-22",
        "carrier": "UPS",
        "tracking_number": UPS[0],
        "tracking_url": f"https://www.ups.com/track?tracknum={UPS[0]}",
        "source": "orders_updated_7.csv",
    }
    timestamp, _, signature = request["signature"].partition(",v1=")
    assert timestamp.startswith("t=")
    expected = hmac.new(
        SECRET.encode(), timestamp[2:].encode() + b"." + request["body"].encode(), hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert states(loaded_store) == [("1001", "delivered", 1), ("1002", "delivered", 1),
                                    ("1004", "delivered", 1)]  # fmt: skip
    assert event(loaded_store, "1001").file_id == file_id
    with loaded_store.connect() as connection:
        assert pending(connection) == []


def test_every_transient_failure_is_retried_until_delivered(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """500, a reset connection, an answer later than the timeout, 408, 429 with
    Retry-After and 503: each time the event waits (backoff; Retry-After when longer),
    keeps what the receiver said, and is delivered once the receiver answers 200."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    receiver.plan([
        {"status": 500, "body": "database down"},
        {"reset": True},
        {"hang": 3},
        {"status": 408},
        {"status": 429, "retry_after": 7200},
        {"status": 503, "retry_after": "Tue, 24 Nov 2026 06:00:00 GMT"},
    ])  # fmt: skip
    sender = sender_for(loaded_store, receiver.url, clock)
    seen = []
    for attempt in range(1, 7):
        report = sender.send_once()
        assert (report.delivered, report.retrying) == (0, 1), report
        failed = event(loaded_store, "1001")
        assert failed.state == "pending" and failed.attempts == attempt
        wait = (failed.next_attempt_at - clock()).total_seconds()
        seen.append((failed.last_status, failed.last_error, failed.last_response, wait))
        assert sender.send_once().retrying == 0, "not before its time"
        clock.now = failed.next_attempt_at
    assert sender.send_once().delivered == 1
    sender.close()
    statuses = [status for status, *_ in seen]
    assert statuses == [500, None, None, 408, 429, 503]
    assert seen[0][2] == "database down"
    assert "could not be reached" in seen[1][1]
    assert "did not answer within 1 s" in seen[2][1]
    waits = [wait for *_, wait in seen]
    for failures, wait in enumerate(waits[:4], start=1):  # 30 s, 60 s, 120 s, 240 s (+ jitter)
        base = FIRST_RETRY_SECONDS * 2 ** (failures - 1)
        assert base <= wait <= base + JITTER_SECONDS
    assert waits[4] == 7200  # Retry-After: 7200 is longer than the backoff
    # Retry-After as an HTTP date: until then (the clock was at that attempt's time)
    answered_at = NOW + dt.timedelta(seconds=sum(waits[:5]))
    assert waits[5] == (dt.datetime(2026, 11, 24, 6, tzinfo=dt.UTC) - answered_at).total_seconds()
    assert event(loaded_store, "1001").state == "delivered"
    assert receiver.delivered_ids() == [event(loaded_store, "1001").event_id]
    assert [request["answer"] for request in receiver.requests()] == [
        500, "reset", "late", 408, 429, 503, 200
    ]  # fmt: skip


def test_a_refusal_is_dead_at_once_keeping_the_status_and_first_bytes(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """A 400 (the receiver refused the events): dead after one attempt, no retry, the
    status and the first 500 bytes of the answer kept; the other events of that batch too
    (one POST, one answer)."""
    ship(loaded_store, tmp_path, [("1", "1001"), ("3", "1004")])
    receiver.plan([{"status": 400, "body": "unknown order 1; " + "x" * 2000}])
    sender = sender_for(loaded_store, receiver.url, clock)
    report = sender.send_once()
    assert (report.dead, report.retrying) == (2, 0)
    dead = event(loaded_store, "1001")
    assert (dead.state, dead.attempts, dead.last_status) == ("dead", 1, 400)
    assert dead.last_response is not None and dead.last_response.startswith("unknown order 1; x")
    assert len(dead.last_response) == 500
    assert "refused the events: 400 Bad Request" in (dead.last_error or "")
    clock.advance(hours=100)
    assert sender.send_once().delivered == 0  # dead events wait for notify retry
    assert len(receiver.requests()) == 1


def test_a_redirect_is_refused_saying_where_to(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """ftpbridge follows no redirect (the signed body would go elsewhere): dead, with a
    message naming the new host (not its path) and what to change."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    receiver.plan([{"status": 301, "location": "https://new.example.com/secret/path"}])
    sender_for(loaded_store, receiver.url, clock).send_once()
    dead = event(loaded_store, "1001")
    assert dead.state == "dead" and dead.last_status == 301
    assert "https://new.example.com" in (dead.last_error or "")
    assert "/secret/path" not in (dead.last_error or "")
    assert "set [notify] webhook_url to the final address" in (dead.last_error or "")


def test_a_receiver_that_keeps_failing_is_given_up_after_give_up_after(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """500s for ever: the event is tried with growing waits (at most an hour) and is dead
    on the first failure at or after 48 h of waiting, not before; the last try is at 48 h
    exactly."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    receiver.plan([{"status": 500}] * 200)
    sender = sender_for(loaded_store, receiver.url, clock)
    give_up_at = NOW + dt.timedelta(hours=48)
    attempts = 0
    while event(loaded_store, "1001").state == "pending":
        sender.send_once()
        attempts += 1
        waiting = event(loaded_store, "1001")
        if waiting.state == "pending":
            assert waiting.next_attempt_at <= give_up_at
            assert (waiting.next_attempt_at - clock()).total_seconds() <= 3600 + JITTER_SECONDS
            clock.now = waiting.next_attempt_at
    dead = event(loaded_store, "1001")
    assert dead.state == "dead" and clock() == give_up_at
    assert "given up after 48 h" in (dead.last_error or "")
    assert dead.attempts == attempts == len(receiver.requests())
    assert 50 < attempts < 60  # 30 s doubling to an hour, then hourly: about 54 tries


def test_a_later_event_of_an_order_waits_for_the_earlier_one(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """Oldest first per order: item 1001 shipped, then corrected. While the shipment
    waits for a retry, its correction is not sent (a receiver never sees a correction
    before the shipment); another order's event goes out meanwhile."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    sender = sender_for(loaded_store, receiver.url, clock)
    receiver.plan([{"status": 503}])
    sender.send_once()
    path = tmp_path / "correction_updated.csv"
    path.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\r\n"
        f"1,1001,TRUE,2026-11-22,UPS,{UPS[1]}\r\n",
        encoding="utf-8",
    )
    from ftpbridge.files.importing import import_file
    from ftpbridge.files.layouts import load_layout
    from ftpbridge.settings import build_settings
    from ftpbridge.store.outbox import Notify

    acme = build_settings({"partners": {"acme": {"default": True}}}).partners["acme"]
    assert import_file(loaded_store, acme, load_layout("default"), path, now=NOW,
                       notify=Notify(webhook=True)).applied == 1  # fmt: skip
    ship(loaded_store, tmp_path, [("3", "1004")])
    assert sender.send_once().delivered == 1  # order 3 only
    assert [e["item_id"] for r in receiver.answered() for e in json.loads(r["body"])["events"]] == [
        "1004"
    ]
    clock.advance(hours=1)
    assert sender.send_once().delivered == 2
    last = json.loads(receiver.answered()[-1]["body"])["events"]
    assert [(e["item_id"], e["type"], e["tracking_number"]) for e in last] == [
        ("1001", "item.shipped", UPS[0]),
        ("1001", "item.corrected", UPS[1]),
    ]


def test_events_go_in_batches_of_batch_size(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """Five events with batch_size 2: three POSTs of 2, 2 and 1, in order."""
    ship(loaded_store, tmp_path, [("1", "1001"), ("1", "1002"), ("3", "1004"), ("3", "1005"),
                                  ("4", "1006")])  # fmt: skip
    sender = sender_for(loaded_store, receiver.url, clock, batch_size=2)
    assert sender.send_once().delivered == 5
    sizes = [len(json.loads(request["body"])["events"]) for request in receiver.requests()]
    assert sizes == [2, 2, 1]
    assert [states[1] for states in states(loaded_store)] == ["delivered"] * 5


def test_an_unreachable_receiver_is_retried(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """Nothing listens: the attempt fails as "could not be reached" and is tried again."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    receiver.stop()
    report = sender_for(loaded_store, receiver.url, clock).send_once()
    assert report.retrying == 1
    assert "could not be reached" in report.errors[0]
    assert event(loaded_store, "1001").state == "pending"


def test_backoff_doubles_from_30_seconds_to_an_hour() -> None:
    """tenacity's exponential wait with jitter: 30, 60, 120 s ... capped at 3600 s."""
    for failures, base in ((1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (40, 3600)):
        assert base <= backoff_seconds(failures) <= base + JITTER_SECONDS


def test_what_a_receiver_sends_never_makes_the_sender_raise(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """Retry-After "²" (str.isdigit says yes, float() raises), "soon", 5,000 digits and a
    date out of range: the 503s are retried with the usual backoff (a day at most for the
    digits), nothing raises; a redirect to "http://[" (no address urlsplit can read) is
    refused, saying so. Before, the ValueError escaped deliver: the batch stayed leased."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    receiver.plan([
        {"status": 503, "retry_after": "²"},
        {"status": 503, "retry_after": "soon"},
        {"status": 503, "retry_after": "9" * 5000},
        {"status": 503, "retry_after": "Tue, 24 Nov 99999 06:00:00 GMT"},
        {"status": 302, "location": "http://["},
    ])  # fmt: skip
    sender = sender_for(loaded_store, receiver.url, clock)
    waits = []
    for attempt in range(1, 5):
        report = sender.send_once()
        assert (report.retrying, report.dead) == (1, 0), report
        failed = event(loaded_store, "1001")
        assert (failed.state, failed.attempts, failed.last_status) == ("pending", attempt, 503)
        waits.append((failed.next_attempt_at - clock()).total_seconds())
        clock.now = failed.next_attempt_at
    assert FIRST_RETRY_SECONDS <= waits[0] <= FIRST_RETRY_SECONDS + JITTER_SECONDS
    assert 2 * FIRST_RETRY_SECONDS <= waits[1] <= 2 * FIRST_RETRY_SECONDS + JITTER_SECONDS
    assert waits[2] == 24 * 3600
    assert 8 * FIRST_RETRY_SECONDS <= waits[3] <= 8 * FIRST_RETRY_SECONDS + JITTER_SECONDS
    assert sender.send_once().dead == 1
    sender.close()
    dead = event(loaded_store, "1001")
    assert dead.last_status == 302
    assert "a redirect to an address that cannot be read" in (dead.last_error or "")


@pytest.mark.parametrize(
    ("phase", "said"),
    [("headers", "did not answer within 1 s"), ("body", "did not finish its answer within 1 s")],
)
def test_a_receiver_trickling_its_answer_is_left_at_the_deadline(
    phase: str, said: str, loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """[notify] timeout (1 s here) bounds the whole request, not each read: a receiver
    sending its answer one byte every 0.5 s (from the status line, or the body after the
    headers) would take 100 s, far past the lease; the sender hangs up at the deadline
    (the receiver could send only part of it) and the event waits for a retry."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    receiver.plan([{"trickle": 0.5, "bytes": 200, "phase": phase}])
    sender = sender_for(loaded_store, receiver.url, clock)
    [channel] = sender.channels
    assert 200 * 0.5 > channel.lease_seconds  # the whole trickle would outlast the lease
    report = sender.send_once()
    sender.close()
    assert (report.delivered, report.retrying) == (0, 1), report
    failed = event(loaded_store, "1001")
    assert failed.state == "pending" and failed.attempts == 1
    assert failed.last_error == f"the webhook at {receiver.base} {said}"
    [trickled] = wait_for(
        lambda: [r for r in receiver.requests() if r["answer"] == "trickle"],
        "the receiver to see the sender hang up",
    )
    assert trickled["sent"] < 200


def test_a_compressed_answer_is_never_inflated_past_what_is_kept(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    """A 500 whose gzip body inflates to 128 MB of zeros (about 128 KB sent): the first
    500 bytes are kept (zeros shown as spaces), and the sender's memory never holds the
    inflated answer (httpx's iter_bytes inflated a whole network read at once: 64 MB)."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    receiver.plan([{"gzip_bomb": 128}])
    sender = sender_for(loaded_store, receiver.url, clock)
    tracemalloc.start()
    try:
        report = sender.send_once()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    sender.close()
    assert report.retrying == 1
    failed = event(loaded_store, "1001")
    assert failed.last_status == 500 and failed.last_response == " " * 500
    assert peak < 8 * 2**20, peak
