"""What an export reads and how its items are marked: the partner's items waiting to ship
(``iter_exportable``, in natural order, streamed), marked ``acknowledged`` as exported
(``mark_exported``, ``mark_all_exported``) or once the file is on the server
(``mark_sent``). Also the statuses not yet shipped and the natural order, which
``items.list_items`` shows too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, func, select, type_coerce
from sqlalchemy.types import NullType

from ftpbridge.store.engine import copy_rows, driver_sql, execute_many, timestamp_value
from ftpbridge.store.schema import items, orders

UNSHIPPED = ("pending", "acknowledged")

# Order date, then order id and item id in natural order: identifiers are text, and a
# shorter digit string is the smaller number ("9" before "10"); equal lengths compare as
# text. length() is standard SQL, the same on SQLite and PostgreSQL.
NATURAL_ORDER = (
    orders.c.created_at,
    func.length(orders.c.id),
    orders.c.id,
    func.length(items.c.id),
    items.c.id,
)

# The columns export writes from: every item field joined with its order's. The order
# time is read as the driver gives it (text on SQLite, a datetime on PostgreSQL) and parsed
# a column at a time by export: a type that converts each row costs more than the rest.
EXPORT_COLUMNS = (
    orders.c.id.label("order_id"),
    type_coerce(orders.c.created_at, NullType()).label("order_date"),
    items.c.id.label("item_id"),
    items.c.sku_id,
    items.c.warehouse_sku,
    items.c.upc,
    items.c.product_name,
    items.c.product_type,
    items.c.attributes,
    items.c.quantity,
    orders.c.ship_firstname,
    orders.c.ship_lastname,
    orders.c.ship_address1,
    orders.c.ship_address2,
    orders.c.ship_city,
    orders.c.ship_state,
    orders.c.ship_postal_code,
    orders.c.ship_country,
    orders.c.ship_phone,
    orders.c.email,
)
EXPORT_NAMES = tuple(column.name for column in EXPORT_COLUMNS)


def iter_exportable(
    connection: Connection, partner: str, *, new_only: bool, batch: int = 20_000
) -> Iterator[Sequence[Sequence[Any]]]:
    """The partner's items waiting to ship, in batches, ordered by order date, order id, item id.

    ``new_only``: only items never exported before (``pending``); otherwise every item
    that is neither shipped nor cancelled, each exactly once.
    """
    statuses = ("pending",) if new_only else UNSHIPPED
    query = (
        select(*EXPORT_COLUMNS)
        .select_from(items.join(orders, items.c.order_id == orders.c.id))
        .where(items.c.partner == partner, items.c.status.in_(statuses))
        .order_by(*NATURAL_ORDER)
    )
    if connection.dialect.name == "sqlite":
        # sqlite3 steps its rows as they are fetched: its own cursor streams already, and
        # gives plain tuples (SQLAlchemy's buffered Row per row cost a third of the time
        # of a million-line export).
        compiled = query.compile(
            dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        parameters = tuple(compiled.params[name] for name in compiled.positiontup or ())
        result = connection.exec_driver_sql(compiled.string, parameters)
        try:
            while rows := result.cursor.fetchmany(batch):
                yield rows
        finally:
            result.close()
        return
    # On the statement, not the connection: Connection.execution_options() changes the
    # connection itself in SQLAlchemy 2, and every later statement of the transaction would
    # then be sent as a server-side cursor (PostgreSQL refuses DECLARE ... FOR INSERT).
    # psycopg runs this one as a named (server-side) cursor.
    result = connection.execute(
        query, execution_options={"stream_results": True, "yield_per": batch}
    )
    yield from result.partitions(batch)


def mark_exported(
    connection: Connection,
    partner: str,
    item_ids: Sequence[str],
    now: dt.datetime,
    *,
    new_only: bool,
) -> None:
    """Mark the items that :func:`iter_exportable` just returned (same arguments, same
    transaction) as exported: ``acknowledged``, with first/last export times.

    On SQLite the transaction holds the write lock from its start (BEGIN IMMEDIATE), so the
    items iter_exportable's condition selects now are exactly the ones it returned: one
    UPDATE with that condition marks them, in half the time of an UPDATE per id (checked
    by its row count). Elsewhere each id is updated, through the driver's executemany with
    plain tuples (SQLAlchemy's per-row parameter handling cost more than the database).
    """
    stamp = timestamp_value(connection, now)
    if connection.dialect.name == "sqlite":
        marked = mark_all_exported(connection, partner, now, new_only=new_only)
        if marked != len(item_ids):
            raise RuntimeError(f"marked {marked} items as exported, but {len(item_ids)} were")
        return
    execute_many(
        connection,
        _MARK_SQL + " WHERE id = ? AND status IN ('pending', 'acknowledged')",
        list(zip(repeat(stamp), repeat(stamp), repeat(stamp), item_ids)),
    )


_MARK_SQL = (
    "UPDATE items SET status = 'acknowledged', last_exported_at = ?,"
    " first_exported_at = COALESCE(first_exported_at, ?), updated_at = ?"
)


_MARK_SENT_SQL = (
    "UPDATE items SET status = 'acknowledged', last_exported_at = ?,"
    " first_exported_at = COALESCE(first_exported_at, ?), updated_at = ?"
    " WHERE partner = ? AND status IN ('pending', 'acknowledged')"
    " AND id IN (SELECT id FROM ftpbridge_sent)"
)


def mark_all_exported(
    connection: Connection, partner: str, now: dt.datetime, *, new_only: bool
) -> int:
    """SQLite, in a transaction holding the write lock: mark every item that
    :func:`iter_exportable` selects (same condition) as exported, in one UPDATE; return
    how many were marked."""
    stamp = timestamp_value(connection, now)
    statuses = ("pending",) if new_only else UNSHIPPED
    return connection.exec_driver_sql(
        _MARK_SQL + " WHERE partner = ? AND status IN (?, ?)",
        (stamp, stamp, stamp, partner, statuses[0], statuses[-1]),
    ).rowcount


def mark_sent(
    connection: Connection, partner: str, item_ids: Sequence[str], now: dt.datetime
) -> int:
    """Mark the items of an export as sent, once its file is on the partner's server:
    ``acknowledged`` with first/last export times (only those still open: an item
    shipped or cancelled meanwhile keeps its status). Returns how many changed.

    Issue 12 item 6: an item counts as sent only when the file holding it was uploaded,
    so the ids are marked here, not where the file was written. They go into a temporary
    table (executemany on SQLite, COPY on PostgreSQL), then one UPDATE joins it: 5.4 s
    for a million ids on SQLite, where an UPDATE per id took 10.7 s (docs/benchmarks.md).
    """
    if not item_ids:
        return 0
    stamp = timestamp_value(connection, now)
    postgres = connection.dialect.name == "postgresql"
    connection.exec_driver_sql("DROP TABLE IF EXISTS ftpbridge_sent")
    connection.exec_driver_sql(
        "CREATE TEMPORARY TABLE ftpbridge_sent (id TEXT PRIMARY KEY)"
        + (" ON COMMIT DROP" if postgres else " WITHOUT ROWID")
    )
    if postgres:
        copy_rows(connection, "ftpbridge_sent", ("id",), ((item_id,) for item_id in item_ids))
    else:
        execute_many(
            connection, "INSERT INTO ftpbridge_sent (id) VALUES (?)", [(i,) for i in item_ids]
        )
    result = connection.exec_driver_sql(
        driver_sql(connection, _MARK_SENT_SQL),
        (stamp, stamp, stamp, partner),
    )
    if not postgres:
        connection.exec_driver_sql("DROP TABLE ftpbridge_sent")
    return int(result.rowcount) if result.rowcount is not None and result.rowcount >= 0 else 0
