"""Items looked up, listed and counted: their current state for an import or an update
(``lookup``, in ``LOOKUP_NAMES`` order), the rows of ``orders list`` (``list_items``) and
the count per partner and status.

What an export reads and marks is in ``exports``; shipments applied with their audit trail
in ``shipments``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from ftpbridge.store.engine import fetch_all, sqlite_cursor
from ftpbridge.store.exports import NATURAL_ORDER, UNSHIPPED
from ftpbridge.store.schema import items, orders

BATCH = 5_000


LOOKUP_COLUMNS = (
    items.c.id.label("item_id"),
    items.c.order_id,
    items.c.partner,
    items.c.status,
    items.c.shipped_date,
    items.c.carrier,
    items.c.tracking_number,
    orders.c.created_at.label("order_created_at"),
    orders.c.email.label("customer"),
)
LOOKUP_NAMES = tuple(column.name for column in LOOKUP_COLUMNS)

# The order's customer, to tell whether two orders are one customer's: the e-mail, any
# case, else the shipping name and postal code.
_LOOKUP_SQL = (
    "SELECT items.id, items.order_id, items.partner, items.status, items.shipped_date,"
    " items.carrier, items.tracking_number, orders.created_at,"
    " CASE WHEN orders.email <> '' THEN lower(orders.email) ELSE lower(orders.ship_firstname"
    " || ' ' || orders.ship_lastname || ' ' || orders.ship_postal_code) END"
    " FROM items JOIN orders ON orders.id = items.order_id"
)


def lookup(
    connection: Connection, item_ids: Sequence[str], *, lock: bool = False
) -> list[tuple[Any, ...]]:
    """Current state of the given items (those that exist), as tuples in LOOKUP_NAMES order
    (``customer``: the order's customer, see above).

    Straight from the driver: dates and times come back as the driver gives them (text on
    SQLite, date/datetime on PostgreSQL); callers parse them with pandas either way.
    ``lock``: on PostgreSQL, lock the items (FOR UPDATE) until the transaction ends, so
    that what is decided from this read still holds when it is applied (an API update;
    on SQLite the writing transaction holds the one write lock already).
    """
    rows: list[tuple[Any, ...]] = []
    if connection.dialect.name == "postgresql":
        # One array parameter instead of thousands of markers: psycopg sends a text[].
        sql = _LOOKUP_SQL + " WHERE items.id = ANY(?)" + (" FOR UPDATE OF items" if lock else "")
        for start in range(0, len(item_ids), BATCH * 10):
            rows.extend(fetch_all(connection, sql, (list(item_ids[start : start + BATCH * 10]),)))
        return rows
    with sqlite_cursor(connection) as cursor:  # (SQLAlchemy's layer: 90 µs of 1,000 items)
        for start in range(0, len(item_ids), BATCH):
            chunk = item_ids[start : start + BATCH]
            markers = ",".join("?" * len(chunk))
            sql = _LOOKUP_SQL + f" WHERE items.id IN ({markers})"  # only "?" markers are added
            rows.extend(cursor.execute(sql, chunk).fetchall())
    return rows


LIST_COLUMNS = (
    items.c.order_id,
    items.c.id.label("item_id"),
    items.c.partner,
    items.c.status,
    orders.c.created_at.label("order_date"),
    items.c.sku_id,
    items.c.warehouse_sku,
    items.c.product_name,
    items.c.quantity,
    items.c.shipped_date,
    items.c.carrier,
    items.c.tracking_number,
    items.c.last_exported_at,
)


def list_items(
    connection: Connection,
    *,
    partner: str | None,
    status_filter: str,
    past_due_before: dict[str, dt.datetime] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Items for ``orders list``. ``past_due_before`` maps partner → cut-off order time for
    the ``past_due`` filter (an order older than that and not shipped is past due)."""
    query = select(*LIST_COLUMNS).select_from(items.join(orders, items.c.order_id == orders.c.id))
    if partner is not None:
        query = query.where(items.c.partner == partner)
    if status_filter in ("pending", "acknowledged", "shipped", "cancelled"):
        query = query.where(items.c.status == status_filter)
    elif status_filter == "not_shipped":
        query = query.where(items.c.status.in_(UNSHIPPED))
    elif status_filter == "past_due":
        cutoffs = past_due_before or {}
        if not cutoffs:
            return []
        query = query.where(
            items.c.status.in_(UNSHIPPED),
            or_(
                *(
                    and_(items.c.partner == name, orders.c.created_at < cutoff)
                    for name, cutoff in cutoffs.items()
                )
            ),
        )
    query = query.order_by(*NATURAL_ORDER)
    if limit is not None:
        query = query.limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]


def count_by_status(connection: Connection) -> dict[tuple[str | None, str], int]:
    """(partner, status) → number of items."""
    query = select(items.c.partner, items.c.status, func.count()).group_by(
        items.c.partner, items.c.status
    )
    return {(partner, status): count for partner, status, count in connection.execute(query)}
