"""Upgrading a store that is in use: every migration keeps the data and its references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import func, select

from ftpbridge.files.intake import load_orders
from ftpbridge.settings import build_settings
from ftpbridge.store import open_store
from ftpbridge.store.engine import _alembic_config, driver_sql, timestamp_value, utcnow
from ftpbridge.store.schema import audit, files, item_changes, items

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
UPS = "1Z5R89390357567127"


def stamp(connection: Any) -> Any:
    return timestamp_value(connection, utcnow())


def test_a_store_with_imports_upgrades_to_the_newest_schema(
    empty_store_url: str, tmp_path: Path
) -> None:
    """A store at 0002 with orders, an applied import and its audit rows (which point at
    the ledger) upgrades to head on open, on SQLite and PostgreSQL, keeping every row.

    On SQLite the upgrade rebuilds the ledger table; with foreign keys enforced that used
    to fail with "FOREIGN KEY constraint failed" and left the store unusable."""
    old = open_store(empty_store_url, migrate=False)
    config = _alembic_config()
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with old.engine.begin() as connection:  # an order as 0002 kept it (today's code
        # writes columns that 0002 does not have yet, so the rows are written by hand)
        for sql in (
            "INSERT INTO orders (id, created_at, email, ship_firstname, ship_lastname,"
            " ship_address1, ship_address2, ship_city, ship_state, ship_postal_code,"
            " ship_country, ship_phone, loaded_at, updated_at)"
            " VALUES ('1', ?, '', '', '', '', '', '', '', '', '', '', ?, ?)",
            "INSERT INTO items (id, order_id, sku_id, warehouse_sku, upc, product_name,"
            " product_type, attributes, quantity, partner, status, updated_at)"
            " VALUES ('1001', '1', '27', '55666', '', 'Hoodie', '', '', 1, 'acme', 'pending',"
            " ?) ",
        ):
            count = sql.count("?")
            connection.exec_driver_sql(
                driver_sql(connection, sql), tuple(stamp(connection) for _ in range(count))
            )
    with old.engine.begin() as connection:  # an import as 0002 recorded it
        connection.exec_driver_sql(
            driver_sql(
                connection,
                "INSERT INTO files (id, partner, direction, name, sha256, size, state, import_key,"
                " rows_total, rows_applied, rows_unchanged, rows_rejected, created_at, updated_at)"
                " VALUES (7, 'acme', 'import', 'orders_updated_1.csv', 'abc', 10, 'applied',"
                " 'abc', 1, 1, 0, 0, ?, ?)",
            ),
            (stamp(connection), stamp(connection)),
        )
        for field, old_value, new_value in (
            ("status", "acknowledged", "shipped"),
            ("shipped_date", None, "2026-11-22"),
            ("carrier", None, "UPS"),
            ("tracking_number", None, UPS),
        ):
            connection.exec_driver_sql(
                driver_sql(
                    connection,
                    "INSERT INTO audit (item_id, field, old_value, new_value, file_id, source,"
                    " row_number, changed_at) VALUES ('1001', ?, ?, ?, 7, 'orders_updated_1.csv',"
                    " 2, ?)",
                ),
                (field, old_value, new_value, stamp(connection)),
            )
    old.close()

    store = open_store(empty_store_url)
    assert store.revision()[0] == store.revision()[1]
    with store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(audit)).scalar() == 4
        # Audit rows written before 0004 read the same through the view audit (one change
        # of the item in item_changes, keeping its own source and time).
        trail = connection.execute(
            select(audit.c.field, audit.c.old_value, audit.c.new_value, audit.c.source).order_by(
                audit.c.position
            )
        ).all()
        assert [tuple(row) for row in trail] == [
            ("status", "acknowledged", "shipped", "orders_updated_1.csv"),
            ("shipped_date", None, "2026-11-22", "orders_updated_1.csv"),
            ("carrier", None, "UPS", "orders_updated_1.csv"),
            ("tracking_number", None, UPS, "orders_updated_1.csv"),
        ]
        assert connection.execute(select(func.count()).select_from(item_changes)).scalar() == 1
        assert connection.execute(select(func.count()).select_from(files)).scalar() == 1
        status = connection.execute(select(items.c.status).where(items.c.id == "1001")).scalar()
    assert status == "pending"
    if store.dialect == "sqlite":
        with store.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            # Connections handed out after the upgrade enforce foreign keys again.
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


def test_0004_downgrades_back_to_an_audit_table_with_the_same_rows(
    empty_store_url: str, tmp_path: Path
) -> None:
    """An import's audit trail after 0004, downgraded to 0003: the audit table has one row
    per changed field, with the file's name and time filled in from the ledger."""
    from ftpbridge.files.importing import import_file
    from ftpbridge.files.layouts import load_layout

    settings = build_settings({"partners": {"acme": {"default": True}}})
    store = open_store(empty_store_url)
    load_orders(store, EXAMPLES, list(settings.partners.values()))
    path = tmp_path / "orders_updated_1.csv"
    path.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\n"
        f"1,1001,TRUE,2026-11-22,UPS,{UPS}\n",
        encoding="utf-8",
    )
    now = utcnow()
    result = import_file(store, settings.partners["acme"], load_layout("default"), path, now=now)
    assert result.applied == 1
    with store.connect() as connection:
        before = connection.execute(
            select(audit.c.field, audit.c.old_value, audit.c.new_value, audit.c.source).order_by(
                audit.c.id, audit.c.position
            )
        ).all()
    config = _alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    with store.connect() as connection:
        after = connection.exec_driver_sql(
            "SELECT field, old_value, new_value, source FROM audit ORDER BY id"
        ).all()
        assert (
            connection.exec_driver_sql(
                "SELECT count(*) FROM audit WHERE changed_at IS NULL"
            ).scalar()
            == 0
        )
    assert [tuple(row) for row in after] == [tuple(row) for row in before]
    assert [row[0] for row in after] == ["status", "shipped_date", "carrier", "tracking_number"]
    assert {row[3] for row in after} == {"orders_updated_1.csv"}
    store.close()
    reopened = open_store(empty_store_url)  # and up again to the newest
    assert reopened.revision()[0] == reopened.revision()[1]
    reopened.close()
