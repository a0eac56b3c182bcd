"""Migration 0010 (items by partner, status and order id): up from a store in use and down
again, on SQLite and PostgreSQL; View Orders' count and a page's items use the index."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy.dialects import sqlite

from ftpbridge.files.intake import load_orders
from ftpbridge.files.order_checks import ITEM_STATUSES_IN
from ftpbridge.settings import build_settings
from ftpbridge.store import open_store
from ftpbridge.store.engine import _alembic_config
from ftpbridge.store.search import STATUSES, UNSHIPPED, OrderSearch, find_orders, prepared

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"


def item_indexes(store) -> set[str]:
    sql = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'items'"
        if store.dialect == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE tablename = 'items'"
    )
    with store.connect() as connection:
        return {row[0] for row in connection.exec_driver_sql(sql)}


def _migrate(store, revision: str, *, down: bool = False) -> None:
    config = _alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_0010_up_and_down_keeps_the_items(empty_store_url: str) -> None:
    """A store at 0007 (loading orders fills 0007's skus) with orders upgrades to 0010 (the
    index with order_id replaces the one without), View Orders counts as before, and
    downgrades back to 0005."""
    settings = build_settings({"partners": {"acme": {"default": True}}})
    store = open_store(empty_store_url, migrate=False)
    _migrate(store, "0007")
    load_orders(store, EXAMPLES, list(settings.partners.values()))
    assert "ix_items_partner_status" in item_indexes(store)
    _migrate(store, "0010")
    assert store.revision()[0] == "0010"
    indexes = item_indexes(store)
    assert "ix_items_partner_status_order" in indexes
    assert "ix_items_partner_status" not in indexes
    search = OrderSearch(filter="not_shipped", partner="acme", page_size=5)
    with store.connect() as connection:
        page = find_orders(connection, search)
    assert (page.total_entries, len(page.orders)) == (11, 5)
    _migrate(store, "0005", down=True)
    indexes = item_indexes(store)
    assert "ix_items_partner_status" in indexes
    assert "ix_items_partner_status_order" not in indexes
    with store.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM items").scalar() == 18
    store.close()


def _plan(store, statement, values) -> str:
    state = statement.compile(dialect=sqlite.dialect()).construct_expanded_state(values)
    parameters = tuple(
        state.processors[name](state.parameters[name])
        if name in state.processors
        else state.parameters[name]
        for name in state.positiontup or ()
    )
    with store.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + state.statement, parameters)
        return " / ".join(str(row[3]) for row in rows)


def test_count_and_page_items_read_the_partner_status_order_index(tmp_path: Path) -> None:
    """SQLite: a partner's not_shipped orders are counted from the index alone (no probe of
    every order), and whatever the filter, an order's items are looked up by partner,
    status and order id (not every item of the partner)."""
    store = open_store(f"sqlite:///{tmp_path / 'plan.db'}")
    statements, values = prepared(OrderSearch(filter="not_shipped", partner="acme"))
    counting = _plan(store, statements.count, values)
    assert "COVERING INDEX ix_items_partner_status_order" in counting, counting
    assert "orders" not in counting, counting
    for name in ("all", "contains_merch", "not_shipped", "shipped"):  # an order's items
        statements, values = prepared(OrderSearch(filter=name, partner="acme"))
        for plan in (
            _plan(store, statements.page, values),
            _plan(store, statements.items_of, {**values, "order_ids": ["1", "2"]}),
        ):
            assert "(partner=? AND status=? AND order_id=?)" in plan, (name, plan)
    store.close()


def test_the_statuses_named_for_all_and_contains_merch_are_every_status() -> None:
    """ "all" and "contains_merch" name their statuses (for the index): the statuses orders
    load accepts are exactly these, and the other writers (export: acknowledged, import
    and updates: shipped, orders load: cancelled) write only these."""
    assert set(ITEM_STATUSES_IN) == set(STATUSES)
    assert {"acknowledged", "shipped", "cancelled", *UNSHIPPED} <= set(STATUSES)
