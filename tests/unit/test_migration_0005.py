"""Migration 0005 (API keys, product ids, the e-mail wish, the search indexes): up from a
store in use and down again, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from ftpbridge.files.intake import load_orders
from ftpbridge.settings import build_settings
from ftpbridge.store import open_store
from ftpbridge.store.engine import _alembic_config, utcnow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"


def index_names(store) -> set[str]:
    """Every index of the orders table, expression indexes too (which SQLAlchemy's
    inspector leaves out on SQLite)."""
    sql = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders'"
        if store.dialect == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE tablename = 'orders'"
    )
    with store.connect() as connection:
        return {row[0] for row in connection.exec_driver_sql(sql)}


def _migrate(store, revision: str, *, down: bool = False) -> None:
    config = _alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_0005_up_and_down_keeps_the_orders(empty_store_url: str) -> None:
    """A store at 0004 with orders upgrades to 0005 (existing items get product_id "", the
    key table and the indexes appear), downgrades back to 0004 (they go, the orders stay),
    and upgrades again."""
    settings = build_settings({"partners": {"acme": {"default": True}}})
    store = open_store(empty_store_url, migrate=False)
    _migrate(store, "0004")
    with store.engine.begin() as connection:  # orders as 0004 kept them: no product_id
        connection.exec_driver_sql(
            "INSERT INTO orders (id, created_at, email, ship_firstname, ship_lastname,"
            " ship_address1, ship_address2, ship_city, ship_state, ship_postal_code,"
            " ship_country, ship_phone, loaded_at, updated_at) VALUES ('1', '2026-11-11',"
            " '', '', '', '', '', '', '', '', '', '', '2026-11-11', '2026-11-11')"
        )
        connection.exec_driver_sql(
            "INSERT INTO items (id, order_id, sku_id, warehouse_sku, upc, product_name,"
            " product_type, attributes, quantity, partner, status, updated_at) VALUES"
            " ('1001', '1', '', '', '', 'Hoodie', '', '', 1, 'acme', 'pending', '2026-11-11')"
        )
    _migrate(store, "0005")
    assert store.revision()[0] == "0005"
    inspector = inspect(store.engine)
    assert "api_keys" in inspector.get_table_names()
    assert index_names(store) >= {
        "ix_orders_natural_id",
        "ix_orders_created_at",
        "ix_orders_email_lower",
    }
    with store.connect() as connection:
        assert connection.exec_driver_sql("SELECT product_id FROM items").scalar() == ""
    # The code is head's (loading orders fills skus, 0007): up to head, and back down from it.
    _migrate(store, "head")
    load_orders(store, EXAMPLES, list(settings.partners.values()))  # the new column is used
    _migrate(store, "0004", down=True)
    inspector = inspect(store.engine)
    assert "api_keys" not in inspector.get_table_names()
    assert "product_id" not in {column["name"] for column in inspector.get_columns("items")}
    assert "email_requested" not in {c["name"] for c in inspector.get_columns("item_changes")}
    assert not index_names(store) & {"ix_orders_natural_id", "ix_orders_email_lower"}
    with store.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM items").scalar() == 18
    store.close()
    again = open_store(empty_store_url)
    current, newest = again.revision()
    assert current == newest and newest is not None and newest >= "0005"
    from ftpbridge.store import api_keys

    with again.begin() as connection:
        api_keys.create(connection, "k", partner=None, read_only=False, now=utcnow())
    again.close()
