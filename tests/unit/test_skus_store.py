"""store/skus.py on SQLite and PostgreSQL: SKUs from loaded orders, the reads (sold
quantities, updated_after, campaigns, low stock), the API's changes with their audit rows,
and additions that never go below zero."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select

from ftpbridge.files.intake import load_orders
from ftpbridge.settings import Settings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.schema import sku_campaigns, skus, stock_changes
from ftpbridge.store.sku_catalogue import upsert_catalogue
from ftpbridge.store.skus import (
    MAX_QUANTITY,
    SkuChanges,
    SkuQuery,
    adjust_stock,
    find_skus,
    low_stock,
    stock_history,
    update_sku,
)

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def by_id(store: Store, **query: object) -> dict[str, object]:
    with store.connect() as connection:
        return {sku.id: sku for sku in find_skus(connection, SkuQuery(**query))}  # type: ignore[arg-type]


def test_loaded_orders_create_their_skus_with_sold_quantities(loaded_store: Store) -> None:
    """examples/orders.jsonl names four SKUs: each is created from its items (name,
    attributes, warehouse SKU, UPC, the partner its items go to), with stock 0, and
    sold_unshipped_quantity sums its pending items' quantities (the cancelled one not)."""
    found = by_id(loaded_store)
    assert sorted(found) == ["25", "26", "27", "28"]
    hoodie = found["27"]
    assert (hoodie.product_name, hoodie.factory_sku, hoodie.partner) == ("Hoodie", "55666", "acme")
    assert hoodie.attributes == "Size: L; Color: Grey"
    assert hoodie.in_stock_quantity == 0
    assert found["28"].partner == "ac"
    with loaded_store.connect() as connection:
        unshipped = dict(
            connection.exec_driver_sql(
                "SELECT sku_id, sum(quantity) FROM items WHERE status IN ('pending',"
                " 'acknowledged') GROUP BY sku_id"
            ).all()
        )
    assert {sku_id: sku.sold_unshipped_quantity for sku_id, sku in found.items()} == {
        sku_id: int(total) for sku_id, total in unshipped.items()
    }
    assert all(sku.sold_shipped_quantity == 0 for sku in found.values())


def test_loading_orders_again_changes_nothing_and_keeps_stock(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Orders loaded again leave SKUs (and their updated_at) as they were; a new order
    naming a SKU with a campaign records the campaign and never touches the stock."""
    with loaded_store.begin() as connection:
        adjust_stock(connection, "27", 7, scope=None, source="test", now=NOW)
    before = by_id(loaded_store)
    load_orders(
        loaded_store,
        Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl",
        list(settings.partners.values()),
    )
    assert by_id(loaded_store) == before
    order = {
        "id": 99,
        "created_at": "2026-12-01T10:00:00Z",
        "items": [{"id": 9901, "sku_id": 27, "factory_sku": "55666", "campaign_id": 1005}],
    }
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps(order) + "\n", encoding="utf-8")
    load_orders(loaded_store, path, list(settings.partners.values()))
    after = by_id(loaded_store)["27"]
    assert after.in_stock_quantity == 7
    assert after.product_name == "Hoodie"  # the item gave none: kept
    assert after.sold_unshipped_quantity == before["27"].sold_unshipped_quantity + 1
    with loaded_store.connect() as connection:
        pairs = connection.execute(
            select(sku_campaigns.c.sku_id, sku_campaigns.c.campaign_id)
        ).all()
    assert [tuple(pair) for pair in pairs] == [("27", "1005")]
    assert list(by_id(loaded_store, campaign_ids=("1005", "7")).keys()) == ["27"]
    assert by_id(loaded_store, campaign_ids=("7",)) == {}


def test_reads_by_scope_and_updated_after(loaded_store: Store) -> None:
    """A partner's scope sees its SKUs only; updated_after keeps SKUs changed since."""
    assert list(by_id(loaded_store, partner="ac")) == ["28"]
    later = utcnow() + dt.timedelta(seconds=1)
    with loaded_store.begin() as connection:
        adjust_stock(connection, "26", 3, scope=None, source="test", now=later)
    assert list(by_id(loaded_store, updated_after=later)) == ["26"]


def test_update_sets_only_given_fields_audits_stock_and_respects_scope(
    loaded_store: Store,
) -> None:
    """update_sku changes the fields given (not the others), writes one audit row for a
    stock change (old and new of each quantity, the source); a key of another partner
    finds nothing; the same values again modify nothing."""
    changes = SkuChanges(
        available=False, in_stock_quantity=12, reserve_quantity=2, weight=1.5, weight_unit="lb"
    )
    with loaded_store.begin() as connection:
        assert not update_sku(connection, "27", changes, scope="ac", source="api:x", now=NOW).found
        changed = update_sku(
            connection, "27", changes, scope="acme", source="api:acme-wms", now=NOW
        )
        again = update_sku(connection, "27", changes, scope=None, source="api:shop", now=NOW)
    assert (changed.found, changed.modified, changed.in_stock_quantity) == (True, True, 12)
    assert (again.found, again.modified) == (True, False)
    hoodie = by_id(loaded_store)["27"]
    assert (hoodie.available, hoodie.in_stock_quantity, hoodie.reserve_quantity) == (False, 12, 2)
    assert (hoodie.weight, hoodie.weight_unit, hoodie.factory_sku) == (1.5, "lb", "55666")
    with loaded_store.connect() as connection:
        history = stock_history(connection, "27")
    assert len(history) == 1
    entry = history[0]
    assert entry["who"] == "api:acme-wms"
    assert (entry["old_in_stock_quantity"], entry["new_in_stock_quantity"]) == (0, 12)
    assert (entry["old_reserve_quantity"], entry["new_reserve_quantity"]) == (0, 2)


def test_adjust_never_goes_below_zero_or_over_the_maximum(loaded_store: Store) -> None:
    """add/remove: 5 in, 3 out leaves 2; removing 3 more is refused (2 there, nothing
    written); an addition past MAX_QUANTITY too; an unknown or out-of-scope SKU is not
    found. Every change is one audit row, old = new - delta."""
    with loaded_store.begin() as connection:
        assert (
            adjust_stock(connection, "26", 5, scope=None, source="s", now=NOW).in_stock_quantity
            == 5
        )
        assert (
            adjust_stock(connection, "26", -3, scope="acme", source="s", now=NOW).in_stock_quantity
            == 2
        )
        refused = adjust_stock(connection, "26", -3, scope=None, source="s", now=NOW)
        too_many = adjust_stock(connection, "26", MAX_QUANTITY, scope=None, source="s", now=NOW)
        missing = adjust_stock(connection, "nope", 1, scope=None, source="s", now=NOW)
        other = adjust_stock(connection, "26", 1, scope="ac", source="s", now=NOW)
    assert (refused.found, refused.refused, refused.in_stock_quantity) == (True, True, 2)
    assert too_many.refused
    assert not missing.found and not other.found
    with loaded_store.connect() as connection:
        rows = connection.execute(
            select(stock_changes.c.old_in_stock_quantity, stock_changes.c.new_in_stock_quantity)
            .where(stock_changes.c.sku_id == "26")
            .order_by(stock_changes.c.id)
        ).all()
        stock = connection.execute(
            select(skus.c.in_stock_quantity).where(skus.c.id == "26")
        ).scalar()
    assert [tuple(row) for row in rows] == [(0, 5), (5, 2)]
    assert stock == 2


def test_low_stock_uses_free_stock_and_each_partners_threshold(loaded_store: Store) -> None:
    """Free stock = in stock - reserve - sold unshipped. With acme's threshold 5 and ac's
    0: SKUs at or under their threshold come back lowest first; unavailable SKUs never."""
    with loaded_store.begin() as connection:
        upsert_catalogue(
            connection,
            [
                {"id": "25", "in_stock_quantity": 100},
                {"id": "26", "in_stock_quantity": 9},  # sold unshipped 4 → free 5
                {"id": "27", "in_stock_quantity": 9, "available": False},
                {"id": "28", "in_stock_quantity": 6},  # ac: sold unshipped 5 → free 1
            ],
            source="test",
            now=NOW,
        )
        sold = {sku.id: sku.sold_unshipped_quantity for sku in find_skus(connection, SkuQuery())}
        low = low_stock(connection, threshold=5, thresholds={"acme": 5, "ac": 0})
        all_low = low_stock(connection, threshold=5)
        acme_only = low_stock(connection, threshold=100, partner="acme")
    assert sold["26"] == 4 and sold["28"] == 5
    assert [sku.id for sku in low] == ["26"]
    assert [(sku.id, sku.free_quantity) for sku in all_low] == [("28", 1), ("26", 5)]
    assert [sku.id for sku in acme_only] == ["26", "25"]
