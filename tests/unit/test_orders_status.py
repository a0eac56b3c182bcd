"""``ftpbridge orders unship`` and ``orders set-status``: the shop corrects by hand what a
file may not (a file cannot un-ship), each change in the audit trail with its source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from ftpbridge.store import open_store
from ftpbridge.store.schema import audit, items

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
UPS = "1Z5R89390357567127"


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
