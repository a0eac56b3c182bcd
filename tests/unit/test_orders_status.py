"""``ftpbridge orders unship`` and ``orders set-status``: the shop corrects by hand what a
file may not (a file cannot un-ship), each change in the audit trail with its source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from ftpbridge.store import open_store
from ftpbridge.store.manual import set_status
from ftpbridge.store.outbox import Notify
from ftpbridge.store.schema import audit, item_changes, items, outbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
UPS = "1Z5R89390357567127"
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _item(url: str, item_id: str) -> tuple:
    store = open_store(url)
    try:
        with store.connect() as connection:
            return connection.execute(
                select(
                    items.c.status, items.c.shipped_date, items.c.carrier, items.c.tracking_number
                ).where(items.c.id == item_id)
            ).one()
    finally:
        store.close()


def _audit(url: str, item_id: str) -> list[dict]:
    store = open_store(url)
    try:
        with store.connect() as connection:
            query = select(audit).where(audit.c.item_id == item_id)
            rows = connection.execute(query.order_by(audit.c.id, audit.c.position)).mappings()
            return [dict(row) for row in rows]
    finally:
        store.close()


def _ship_1001(run_cli, tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    updated = tmp_path / "u.csv"
    updated.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\n"
        f"1,1001,true,{today},UPS,{UPS}\n",
        encoding="utf-8",
    )
    result = run_cli("import", "--partner", "acme", str(updated))
    assert result.exit_code == 0, result.stdout


def test_unship_makes_a_shipped_item_pending_with_an_audit_entry(
    run_cli, settings, tmp_path: Path, store_url: str
) -> None:
    """shipped -> pending, shipment details removed (kept in the audit trail), source naming
    the command, who ran it and why; the item goes in the next export again."""
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    _ship_1001(run_cli, tmp_path)
    result = run_cli("orders", "unship", "1001", "--reason", "parcel came back")
    assert result.exit_code == 0, result.stderr
    assert "item 1001 (order 1): shipped -> pending (its shipment UPS " + UPS in result.stdout
    assert "Changed 1 item; recorded in the audit trail" in result.stdout
    assert _item(store_url, "1001") == ("pending", None, None, None)
    trail = _audit(store_url, "1001")
    latest = [row for row in trail if row["source"] and "unship" in row["source"]]
    assert {row["field"] for row in latest} == {
        "status",
        "shipped_date",
        "carrier",
        "tracking_number",
    }
    assert all(row["source"].endswith(": parcel came back") for row in latest)
    assert all(row["changed_at"] is not None for row in latest)
    status = next(row for row in latest if row["field"] == "status")
    assert (status["old_value"], status["new_value"]) == ("shipped", "pending")
    again = run_cli("export", "--partner", "acme", "--dry-run", "--out", "-")
    assert "\n1," in again.stdout and ",1001," in again.stdout


def test_unship_and_set_status_refuse_what_they_cannot_do(
    run_cli, tmp_path: Path, store_url: str
) -> None:
    """An item not shipped, an unknown item: an Error and a Try line, nothing changed."""
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    not_shipped = run_cli("orders", "unship", "1002")
    assert not_shipped.exit_code == 2
    assert "Error: not shipped, so nothing to undo: 1002 (pending)" in not_shipped.stderr
    assert "Try: " in not_shipped.stderr
    unknown = run_cli("orders", "set-status", "1002", "nosuch", "--status", "cancelled")
    assert unknown.exit_code == 2
    assert "Error: no item nosuch in the store; nothing was changed" in unknown.stderr
    assert _item(store_url, "1002")[0] == "pending"


def test_set_status_cancels_and_says_what_stayed(run_cli, store_url: str) -> None:
    """set-status cancelled: the item leaves the export; one already so is left alone."""
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    result = run_cli("orders", "set-status", "1002", "1018", "--status", "cancelled")
    assert result.exit_code == 0, result.stderr
    assert "item 1002 (order 1): pending -> cancelled" in result.stdout
    assert "item 1018 (order 12): already cancelled" in result.stdout
    assert _item(store_url, "1002")[0] == "cancelled"
    exported = run_cli("export", "--partner", "acme", "--dry-run", "--out", "-")
    assert ",1002," not in exported.stdout


def _with_webhook(config_file: Path) -> None:
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write(
            '\n[notify]\nwebhook_url = "http://127.0.0.1:9/hook"\n'
            'webhook_secret = "whsec-test-7f3a9c2e51b84d06a1e2"\n'
        )


def _events(url: str) -> list[dict]:
    store = open_store(url)
    try:
        with store.connect() as connection:
            query = select(
                outbox.c.type, outbox.c.item_id, outbox.c.item_status, outbox.c.source,
                outbox.c.change_id, outbox.c.tracking_number, outbox.c.channel,
            ).order_by(outbox.c.id)  # fmt: skip
            return [dict(row) for row in connection.execute(query).mappings()]
    finally:
        store.close()


def test_unship_and_set_status_tell_the_shops_webhook(
    run_cli, config_file: Path, tmp_path: Path, store_url: str
) -> None:
    """With ``[notify] webhook_url``: unship writes ``item.reinstated`` (status pending, no
    shipment, the command as source, the change it tells of), a cancel ``item.cancelled``,
    an item back from cancelled ``item.reinstated``; pending -> acknowledged writes none."""
    _with_webhook(config_file)
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    _ship_1001(run_cli, tmp_path)
    before = len(_events(store_url))  # the shipment's own item.shipped
    assert run_cli("orders", "unship", "1001", "--reason", "came back").exit_code == 0
    assert run_cli("orders", "set-status", "1002", "--status", "acknowledged").exit_code == 0
    assert run_cli("orders", "set-status", "1004", "--status", "cancelled").exit_code == 0
    assert run_cli("orders", "set-status", "1004", "--status", "pending").exit_code == 0
    found = _events(store_url)[before:]
    assert [(row["type"], row["item_id"], row["item_status"]) for row in found] == [
        ("item.reinstated", "1001", "pending"),
        ("item.cancelled", "1004", "cancelled"),
        ("item.reinstated", "1004", "pending"),
    ]
    assert {row["channel"] for row in found} == {"webhook"}
    assert found[0]["tracking_number"] is None
    assert found[0]["source"].startswith("ftpbridge orders unship by ")
    assert found[0]["source"].endswith(": came back")
    unship = [row for row in _audit(store_url, "1001") if "unship" in (row["source"] or "")]
    assert {row["id"] for row in unship} == {found[0]["change_id"]}


def test_set_status_writes_its_event_in_the_changes_transaction(
    run_cli, tmp_path: Path, store_url: str
) -> None:
    """set_status's item.reinstated is in the caller's transaction: rolled back, neither
    the change nor its event is left; committed, both are there."""
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    _ship_1001(run_cli, tmp_path)
    store = open_store(store_url)
    try:
        with store.connect() as connection:
            changes_before = connection.execute(select(item_changes.c.id)).all()
        try:
            with store.begin() as connection:
                set_status(connection, ["1001"], "pending", source="test", now=NOW,
                           only_shipped=True, notify=Notify(webhook=True))  # fmt: skip
                assert [row["type"] for row in _events_on(connection)] == ["item.reinstated"]
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        with store.connect() as connection:
            assert _events_on(connection) == []
            assert connection.execute(select(item_changes.c.id)).all() == changes_before
        with store.begin() as connection:
            set_status(connection, ["1001"], "pending", source="test", now=NOW,
                       only_shipped=True, notify=Notify(webhook=True))  # fmt: skip
        with store.connect() as connection:
            assert [row["type"] for row in _events_on(connection)] == ["item.reinstated"]
    finally:
        store.close()
    assert _item(store_url, "1001")[0] == "pending"


def _events_on(connection) -> list[dict]:
    return [dict(row) for row in connection.execute(select(outbox.c.type)).mappings()]
