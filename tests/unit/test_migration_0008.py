"""Migration 0008 (the outbox, and item_changes by file): up from a store in use at 0005,
down again and up, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import insert, inspect, select

from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.files.layouts import load_layout
from ftpbridge.settings import build_settings
from ftpbridge.store import open_store
from ftpbridge.store.engine import _alembic_config, utcnow
from ftpbridge.store.outbox import Notify
from ftpbridge.store.schema import outbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
UPS = "1Z5R89390357567127"


def _migrate(store, revision: str, *, down: bool = False) -> None:
    config = _alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _indexes(store, table: str) -> set[str]:
    return {index["name"] for index in inspect(store.engine).get_indexes(table)}


def test_0008_up_and_down_keeps_the_changes(empty_store_url: str, tmp_path: Path) -> None:
    """A store at 0007 (before 0008; loading orders fills 0007's skus) with an applied
    import upgrades to 0008 (the outbox and its indexes appear, the changes stay), takes
    events, downgrades to 0005 (the outbox goes, the changes stay) and upgrades again."""
    settings = build_settings({"partners": {"acme": {"default": True}}})
    store = open_store(empty_store_url, migrate=False)
    _migrate(store, "0007")
    load_orders(store, EXAMPLES, list(settings.partners.values()))
    path = tmp_path / "orders_updated_1.csv"
    path.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\n"
        f"1,1001,TRUE,2026-11-22,UPS,{UPS}\n",
        encoding="utf-8",
    )
    acme = settings.partners["acme"]
    assert import_file(store, acme, load_layout("default"), path).applied == 1
    _migrate(store, "0008")
    assert store.revision()[0] == "0008"
    assert "outbox" in inspect(store.engine).get_table_names()
    assert _indexes(store, "outbox") >= {
        "ix_outbox_queue",
        "ix_outbox_order",
        "ix_outbox_lease",
        "ix_outbox_delivered",
    }
    assert "ix_item_changes_file" in _indexes(store, "item_changes")
    second = tmp_path / "orders_updated_2.csv"
    second.write_text(path.read_text().replace("1,1001", "1,1002"), encoding="utf-8")
    result = import_file(store, acme, load_layout("default"), second, notify=Notify(webhook=True))
    assert result.applied == 1
    now = utcnow()
    with store.begin() as connection:  # a row as the code writes it, every column
        connection.execute(
            insert(outbox).values(
                event_id="evt_" + "0" * 32, channel="email", type="order.shipped",
                order_id="1", created_at=now, state="dead", attempts=3, pending_since=now,
                next_attempt_at=now, last_status=550, last_error="refused",
            )
        )  # fmt: skip
        assert connection.execute(
            select(outbox.c.item_id).order_by(outbox.c.id)
        ).scalars().all() == [
            "1002",
            None,
        ]
    _migrate(store, "0005", down=True)
    assert "outbox" not in inspect(store.engine).get_table_names()
    assert "ix_item_changes_file" not in _indexes(store, "item_changes")
    with store.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM item_changes").scalar() == 2
    store.close()
    again = open_store(empty_store_url)
    assert again.revision()[0] == again.revision()[1]
    assert "outbox" in inspect(again.engine).get_table_names()
    again.close()
