"""Migration 0007 (SKUs, their campaigns, the stock audit trail): up from a store in use,
matching store/schema.py, and down again, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from ftpbridge.files.intake import load_orders
from ftpbridge.settings import build_settings
from ftpbridge.store import open_store
from ftpbridge.store.engine import _alembic_config
from ftpbridge.store.schema import metadata

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
NEW_TABLES = {"skus", "sku_campaigns", "stock_changes"}


def _migrate(store: Any, revision: str, *, down: bool = False) -> None:
    config = _alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _ours(difference: Any) -> bool:
    """Whether an autogenerate difference concerns what 0007 made."""
    text = repr(difference)
    return any(name in text for name in (*NEW_TABLES, "ix_items_sku_id_status"))


# autogenerate cannot reflect the expression indexes of 0005 (orders): not ours to compare.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_orders_loaded_before_0007_stay_and_new_loads_fill_the_skus(
    empty_store_url: str,
) -> None:
    """Orders in a store at 0005 survive the upgrade to 0007; the schema then matches
    store/schema.py (autogenerate finds no difference in what 0007 made); orders loaded
    afterwards create their SKUs; down to 0005 drops the new tables and index, keeping
    the orders; up again works."""
    settings = build_settings({"partners": {"acme": {"default": True}}})
    store = open_store(empty_store_url, migrate=False)
    _migrate(store, "0005")
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO orders (id, created_at, email, ship_firstname, ship_lastname,"
            " ship_address1, ship_address2, ship_city, ship_state, ship_postal_code,"
            " ship_country, ship_phone, loaded_at, updated_at) VALUES ('1', '2026-11-11',"
            " '', '', '', '', '', '', '', '', '', '', '2026-11-11', '2026-11-11')"
        )
        connection.exec_driver_sql(
            "INSERT INTO items (id, order_id, sku_id, warehouse_sku, upc, product_name,"
            " product_type, attributes, quantity, partner, status, updated_at) VALUES"
            " ('1001', '1', '27', '55666', '', 'Hoodie', '', '', 1, 'acme', 'pending',"
            " '2026-11-11')"
        )
    _migrate(store, "0007")
    assert store.revision()[0] == "0007"
    assert NEW_TABLES <= set(inspect(store.engine).get_table_names())
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert [difference for difference in differences if _ours(difference)] == []
        assert connection.exec_driver_sql("SELECT count(*) FROM items").scalar() == 1
    load_orders(store, EXAMPLES, list(settings.partners.values()))
    with store.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM skus").scalar() == 4
    _migrate(store, "0005", down=True)
    inspector = inspect(store.engine)
    assert not NEW_TABLES & set(inspector.get_table_names())
    assert "ix_items_sku_id_status" not in {
        index["name"] for index in inspector.get_indexes("items")
    }
    with store.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM items").scalar() == 18
    store.close()
    again = open_store(empty_store_url)
    assert again.revision()[0] == again.revision()[1]
    again.close()
