"""Loading orders and their items (``ftpbridge orders load``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select

from ftpbridge.store.schema import items, orders

BATCH = 5_000

ORDER_FIELDS = (
    "created_at",
    "email",
    "ship_firstname",
    "ship_lastname",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_state",
    "ship_postal_code",
    "ship_country",
    "ship_phone",
)
ITEM_FIELDS = (
    "order_id",
    "sku_id",
    "warehouse_sku",
    "upc",
    "product_name",
    "product_type",
    "product_id",
    "attributes",
    "quantity",
    "partner",
)


@dataclass(frozen=True)
class LoadSummary:
    orders_new: int
    orders_updated: int
    items_new: int
    items_updated: int
    items_kept_shipped: int


def _existing(connection: Connection, column: Any, keys: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    table = column.table
    for start in range(0, len(keys), BATCH):
        chunk = list(keys[start : start + BATCH])
        query = select(table).where(column.in_(chunk))
        for row in connection.execute(query).mappings():
            found[row[column.name]] = row
    return found


def upsert_orders(
    connection: Connection,
    order_rows: Iterable[dict[str, Any]],
    item_rows: Iterable[dict[str, Any]],
    now: dt.datetime,
) -> LoadSummary:
    """Insert new orders and items, update known ones, in the caller's transaction.

    A known item that is shipped stays shipped with its shipping details (a load never
    un-ships); a known item that is pending or acknowledged takes the new product fields,
    quantity and routing, and becomes ``cancelled`` when the load says so. An item that was
    exported stays ``acknowledged``.
    """
    order_list = list(order_rows)
    item_list = list(item_rows)
    known_orders = _existing(connection, orders.c.id, [row["id"] for row in order_list])
    known_items = _existing(connection, items.c.id, [row["id"] for row in item_list])

    new_orders = [
        {**row, "loaded_at": now, "updated_at": now}
        for row in order_list
        if row["id"] not in known_orders
    ]
    changed_orders = [
        {**{field: row[field] for field in ORDER_FIELDS}, "b_id": row["id"], "updated_at": now}
        for row in order_list
        if row["id"] in known_orders
        and any(known_orders[row["id"]][field] != row[field] for field in ORDER_FIELDS)
    ]
    if new_orders:
        connection.execute(orders.insert(), new_orders)
    if changed_orders:
        connection.execute(
            orders.update()
            .where(orders.c.id == bindparam("b_id"))
            .values({field: bindparam(field) for field in (*ORDER_FIELDS, "updated_at")}),
            changed_orders,
        )

    new_items: list[dict[str, Any]] = []
    changed_items: list[dict[str, Any]] = []
    kept_shipped = 0
    for row in item_list:
        known = known_items.get(row["id"])
        if known is None:
            new_items.append({**row, "updated_at": now})
            continue
        if known["status"] == "shipped":
            kept_shipped += 1
            continue
        status = known["status"]
        if row["status"] == "cancelled":
            status = "cancelled"
        elif status == "cancelled":
            status = row["status"]  # the shop reinstated it
        update = {field: row[field] for field in ITEM_FIELDS}
        if status != known["status"] or any(known[field] != update[field] for field in update):
            changed_items.append({**update, "status": status, "b_id": row["id"], "updated_at": now})
    if new_items:
        connection.execute(items.insert(), new_items)
    if changed_items:
        connection.execute(
            items.update()
            .where(items.c.id == bindparam("b_id"))
            .values({field: bindparam(field) for field in (*ITEM_FIELDS, "status", "updated_at")}),
            changed_items,
        )
    return LoadSummary(
        orders_new=len(new_orders),
        orders_updated=len(changed_orders),
        items_new=len(new_items),
        items_updated=len(changed_items),
        items_kept_shipped=kept_shipped,
    )
