"""The outbox is written by the apply path itself, in the transaction of the change: one
webhook event per item change (shipped, corrected, reinstated), one e-mail per order and
file or API update, nothing for a change rolled back, a dry run or an unchanged row."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ftpbridge.files import events
from ftpbridge.files.updates import ItemUpdate, apply_updates
from ftpbridge.settings import build_settings
from ftpbridge.store import Store
from ftpbridge.store.outbox import Notify, add_emails
from ftpbridge.store.schema import item_changes, outbox
from ftpbridge.store.shipments import AuditSource, apply_shipments
from tests.unit.test_importing import NOW, UPS1, UPS2, run_import, write_csv

WEBHOOK = Notify(webhook=True)
EMAIL = Notify(webhook=True, email=True)
EVENT_ID = re.compile(r"evt_[0-9a-f]{32}")


def rows(store: Store, channel: str | None = None) -> list[dict[str, Any]]:
    query = select(outbox).order_by(outbox.c.id)
    if channel is not None:
        query = query.where(outbox.c.channel == channel)
    with store.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def shipped(path: Path, *lines: tuple[str, str, str]) -> Path:
    """A file shipping (order, item, tracking) on 2026-11-22 with UPS."""
    return write_csv(
        path, [[order, item, "TRUE", "2026-11-22", "UPS", number] for order, item, number in lines]
    )


def test_each_applied_row_writes_one_webhook_event_with_its_facts(
    loaded_store: Store, settings, tmp_path: Path
) -> None:
    """A file shipping three items writes three ``item.shipped`` events, in row order,
    each with a new ``evt_`` id, the order, item, partner, date, carrier, number, the
    file as its source and the change it tells about; pending and due now."""
    path = shipped(
        tmp_path / "orders_updated_1.csv",
        ("1", "1001", UPS1),
        ("1", "1002", UPS2),
        ("3", "1004", UPS1),
    )
    result = run_import(loaded_store, settings, path, notify=WEBHOOK)
    assert result.applied == 3
    found = rows(loaded_store)
    assert [(row["type"], row["order_id"], row["item_id"]) for row in found] == [
        ("item.shipped", "1", "1001"),
        ("item.shipped", "1", "1002"),
        ("item.shipped", "3", "1004"),
    ]
    assert all(EVENT_ID.fullmatch(row["event_id"]) for row in found)
    assert len({row["event_id"] for row in found}) == 3
    first = found[0]
    assert first["channel"] == "webhook"
    assert first["partner"] == "acme"
    assert (first["shipped_date"], first["carrier"], first["tracking_number"]) == (
        "2026-11-22",
        "UPS",
        UPS1,
    )
    assert first["source"] == "orders_updated_1.csv"
    assert first["file_id"] == result.file_id
    assert first["item_status"] == "shipped"
    assert first["state"] == "pending" and first["attempts"] == 0
    assert first["created_at"] == NOW == first["next_attempt_at"] == first["pending_since"]
    with loaded_store.connect() as connection:
        change_ids = (
            connection.execute(select(item_changes.c.id).order_by(item_changes.c.id))
            .scalars()
            .all()
        )
    assert [row["change_id"] for row in found] == change_ids


def test_a_correction_is_item_corrected_and_an_unchanged_row_writes_nothing(
    loaded_store: Store, settings, tmp_path: Path
) -> None:
    """The same item again with another number: ``item.corrected``; the same values again:
    unchanged, no event (events go out exactly as often as something changed)."""
    run_import(
        loaded_store,
        settings,
        shipped(tmp_path / "a_updated.csv", ("1", "1001", UPS1), ("1", "1002", UPS1)),
        notify=WEBHOOK,
    )
    second = run_import(
        loaded_store,
        settings,
        shipped(tmp_path / "b_updated.csv", ("1", "1001", UPS2), ("1", "1002", UPS1)),
        notify=WEBHOOK,
    )
    assert (second.applied, second.unchanged) == (1, 1)
    found = rows(loaded_store)
    assert [(row["type"], row["item_id"], row["tracking_number"]) for row in found] == [
        ("item.shipped", "1001", UPS1),
        ("item.shipped", "1002", UPS1),
        ("item.corrected", "1001", UPS2),
    ]
    assert found[-1]["source"] == "b_updated.csv"


def test_an_item_put_back_to_waiting_is_item_reinstated(loaded_store: Store) -> None:
    """apply_shipments with a status other than shipped (what un-shipping does) writes
    ``item.reinstated`` with the item's new status, and an API source."""
    now = NOW
    with loaded_store.begin() as connection:
        apply_shipments(
            connection,
            [("1001", "shipped", "2026-11-22", "UPS", UPS1, 1)],
            AuditSource(None, "api:wms", notify=WEBHOOK),
            now,
        )
    with loaded_store.begin() as connection:
        apply_shipments(
            connection,
            [("1001", "pending", None, None, None, 1)],
            AuditSource(None, "api:wms", notify=WEBHOOK),
            now,
        )
    found = rows(loaded_store)
    assert [(row["type"], row["item_status"], row["source"]) for row in found] == [
        ("item.shipped", "shipped", "api:wms"),
        ("item.reinstated", "pending", "api:wms"),
    ]
    assert found[1]["file_id"] is None and found[1]["tracking_number"] is None


def test_without_notify_nothing_is_written(loaded_store: Store, settings, tmp_path: Path) -> None:
    """The default (no [notify] configured): the change is applied, the outbox stays empty."""
    result = run_import(
        loaded_store, settings, shipped(tmp_path / "x_updated.csv", ("1", "1001", UPS1))
    )
    assert result.applied == 1
    assert rows(loaded_store) == []


def test_a_dry_run_and_a_file_refused_half_way_write_nothing(
    loaded_store: Store, settings, tmp_path: Path
) -> None:
    """Events live and die with their transaction: a dry run is rolled back, and so is a
    file whose third chunk turns out malformed after two chunks were applied."""
    path = shipped(tmp_path / "dry_updated.csv", ("1", "1001", UPS1), ("1", "1002", UPS2))
    dry = run_import(loaded_store, settings, path, notify=EMAIL, dry_run=True)
    assert (dry.status, dry.applied) == ("dry_run", 2)
    broken = tmp_path / "broken_updated.csv"
    shipped(
        broken, ("1", "1001", UPS1), ("1", "1002", UPS2), ("3", "1004", UPS1), ("3", "1005", UPS2)
    )
    with broken.open("ab") as handle:  # a row with an unclosed quote after the good ones
        handle.write(b'5,1007,TRUE,2026-11-22,UPS,"1Z5R89390357567127\r\n')
    refused = run_import(loaded_store, settings, broken, notify=EMAIL, chunk_rows=2)
    assert refused.status == "rejected_file", refused.message
    assert rows(loaded_store) == []


def test_one_email_per_order_of_a_file_even_across_chunks(
    loaded_store: Store, settings, tmp_path: Path
) -> None:
    """Order 1's two items in two chunks of one file: one e-mail for order 1 listing both
    items, one for order 3; to the order's address, with the customer's name and each
    item's product, quantity, date, carrier and number as they were applied."""
    path = shipped(
        tmp_path / "mail_updated.csv", ("1", "1001", UPS1), ("3", "1004", UPS1), ("1", "1002", UPS2)
    )
    result = run_import(loaded_store, settings, path, notify=EMAIL, chunk_rows=1)
    assert result.applied == 3
    emails = rows(loaded_store, "email")
    assert [(row["order_id"], row["recipient"], row["type"]) for row in emails] == [
        ("1", "grace@example.com", "order.shipped"),
        ("3", "margaret@example.com", "order.shipped"),
    ]
    assert emails[0]["file_id"] == result.file_id
    assert emails[0]["source"] == "mail_updated.csv"
    payload = json.loads(emails[0]["payload"])
    assert payload["name"] == "Grace Hopper"
    assert sorted(payload["items"], key=lambda item: item["item_id"]) == [
        {
            "item_id": "1001",
            "product_name": "Hoodie",
            "quantity": 1,
            "event": "item.shipped",
            "shipped_date": "2026-11-22",
            "carrier": "UPS",
            "tracking_number": UPS1,
        },
        {
            "item_id": "1002",
            "product_name": "Vinyl LP",
            "quantity": 2,
            "event": "item.shipped",
            "shipped_date": "2026-11-22",
            "carrier": "UPS",
            "tracking_number": UPS2,
        },
    ]
    assert len(rows(loaded_store, "webhook")) == 3


def test_a_correction_only_email_is_order_corrected(
    loaded_store: Store, settings, tmp_path: Path
) -> None:
    """A second file that only corrects a number e-mails ``order.corrected``."""
    run_import(
        loaded_store,
        settings,
        shipped(tmp_path / "a_updated.csv", ("1", "1001", UPS1)),
        notify=EMAIL,
    )
    run_import(
        loaded_store,
        settings,
        shipped(tmp_path / "b_updated.csv", ("1", "1001", UPS2)),
        notify=EMAIL,
    )
    emails = rows(loaded_store, "email")
    assert [row["type"] for row in emails] == ["order.shipped", "order.corrected"]
    assert json.loads(emails[1]["payload"])["items"][0]["event"] == "item.corrected"


def test_orders_without_an_address_get_no_email(
    loaded_store: Store, settings, tmp_path: Path
) -> None:
    """Nobody to tell: an order whose e-mail is empty gets no e-mail event (its webhook
    event is written as usual)."""
    with loaded_store.begin() as connection:
        connection.exec_driver_sql("UPDATE orders SET email = '' WHERE id = '1'")
    run_import(
        loaded_store,
        settings,
        shipped(tmp_path / "m_updated.csv", ("1", "1001", UPS1), ("3", "1004", UPS1)),
        notify=EMAIL,
    )
    assert [row["order_id"] for row in rows(loaded_store, "email")] == ["3"]
    assert len(rows(loaded_store, "webhook")) == 2


def update(item: str, order: str, number: str = UPS1) -> ItemUpdate:
    return ItemUpdate(order, item, True, "2026-11-22", "UPS", number)


def api_settings(**partner_extra: Any):
    return build_settings(
        {
            "notify": {
                "webhook_url": "https://shop.example.com/hook",
                "email": {"host": "127.0.0.1", "from": "shop@example.com"},
            },
            "partners": {
                "acme": {"default": True, **partner_extra},
                "ac": {"skus": ["AC-*"], "timezone": "America/New_York"},
            },
        }
    )


@pytest.mark.parametrize("email_on_update", [True, False])
def test_an_api_update_writes_its_events_and_emails_when_asked(
    loaded_store: Store, email_on_update: bool
) -> None:
    """An update of three items of two orders: three webhook events with the key's name as
    source; with ``email_on_update`` one e-mail per order (and the count comes back for
    Topspin's ``"email": 1``), without it none (no partner e-mails its customers)."""
    settings = api_settings()
    outcome = apply_updates(
        loaded_store,
        settings,
        [update("1001", "1"), update("1002", "1"), update("1004", "3")],
        scope=None,
        source="api:wms",
        email_requested=email_on_update,
        now=NOW,
        timeout=30,
    )
    assert outcome.modified == 3
    webhook = rows(loaded_store, "webhook")
    assert [(row["item_id"], row["source"]) for row in webhook] == [
        ("1001", "api:wms"),
        ("1002", "api:wms"),
        ("1004", "api:wms"),
    ]
    emails = rows(loaded_store, "email")
    if email_on_update:
        assert outcome.emails == 2
        assert [row["order_id"] for row in emails] == ["1", "3"]
        assert len(json.loads(emails[0]["payload"])["items"]) == 2
    else:
        assert outcome.emails == 0 and emails == []


def test_partners_that_email_their_customers_get_api_emails_for_their_items_only(
    loaded_store: Store,
) -> None:
    """Without ``email_on_update``, an update e-mails only orders of items whose partner
    says ``notify_customers = true`` (acme), not ac's item 1003."""
    settings = api_settings(notify_customers=True)
    plan = events.for_update(settings, email_requested=False)
    assert plan.email_partners == frozenset({"acme"})
    outcome = apply_updates(
        loaded_store,
        settings,
        [update("1001", "1"), update("1003", "2")],
        scope=None,
        source="api:shop",
        email_requested=False,
        now=NOW,
        timeout=30,
    )
    assert outcome.emails == 1
    assert [row["order_id"] for row in rows(loaded_store, "email")] == ["1"]


def test_emails_of_an_api_update_are_only_its_own(loaded_store: Store) -> None:
    """Two updates of the same order a moment apart: each e-mail lists its own update's
    item (the changes are found by the update's source and time)."""
    settings = api_settings()
    for item, moment in (("1001", NOW), ("1002", NOW + dt.timedelta(microseconds=1))):
        apply_updates(
            loaded_store,
            settings,
            [update(item, "1")],
            scope=None,
            source="api:wms",
            email_requested=True,
            now=moment,
            timeout=30,
        )
    emails = rows(loaded_store, "email")
    assert [
        [item["item_id"] for item in json.loads(row["payload"])["items"]] for row in emails
    ] == [
        ["1001"],
        ["1002"],
    ]


def test_add_emails_needs_to_know_which_changes(loaded_store: Store) -> None:
    """A programming mistake is loud: neither a file nor an update time."""
    with loaded_store.begin() as connection, pytest.raises(ValueError, match="file_id"):
        add_emails(connection, NOW, source="x")


def test_a_committed_import_keeps_its_events_and_a_killed_one_has_none(
    loaded_store: Store, config_file: Path, tmp_path: Path, cli_subprocess
) -> None:
    """``ftpbridge import`` killed (SIGKILL) just before its commit leaves no event; run
    again it commits the change and its events together."""
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write('\n[notify]\nwebhook_url = "https://shop.example.com/hook"\n')
    path = shipped(tmp_path / "kill_updated.csv", ("1", "1001", UPS1))
    killed = cli_subprocess(
        "--config",
        str(config_file),
        "import",
        "--partner",
        "acme",
        str(path),
        cwd=tmp_path,
        env={"FTPBRIDGE_CRASH_AT": "commit"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert rows(loaded_store) == []
    again = cli_subprocess(
        "--config", str(config_file), "import", "--partner", "acme", str(path), cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    with loaded_store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(item_changes)).scalar() == 1
    assert [row["item_id"] for row in rows(loaded_store)] == ["1001"]
