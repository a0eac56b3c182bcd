"""Items: what export reads and marks, what import looks up and changes, and the listing."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, type_coerce
from sqlalchemy.types import NullType

from ftpbridge.store.engine import (
    copy_rows,
    driver_sql,
    execute_many,
    fetch_all,
    timestamp_value,
)
from ftpbridge.store.outbox import (
    NOTHING,
    Notify,
    last_change_id,
    new_id_prefix,
    webhook_events_sql,
    with_webhook_events,
)
from ftpbridge.store.schema import items, orders

BATCH = 5_000
UNSHIPPED = ("pending", "acknowledged")

# Order date, then order id and item id in natural order: identifiers are text, and a
# shorter digit string is the smaller number ("9" before "10"); equal lengths compare as
# text. length() is standard SQL, the same on SQLite and PostgreSQL.
_NATURAL_ORDER = (
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
        .order_by(*_NATURAL_ORDER)
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
    for start in range(0, len(item_ids), BATCH):
        chunk = tuple(item_ids[start : start + BATCH])
        markers = ",".join("?" * len(chunk))
        sql = _LOOKUP_SQL + f" WHERE items.id IN ({markers})"  # only "?" markers are added
        rows.extend(fetch_all(connection, sql, chunk))
    return rows


@dataclass(frozen=True)
class AuditSource:
    """Where the changes of an import (or an API update) come from, for their audit rows.
    ``email_requested``: the sender asked for the fan to be e-mailed (kept with each change).
    ``notify``: the outbox events the changes write beside them (store/outbox.py)."""

    file_id: int | None
    source: str
    email_requested: bool = False
    notify: Notify = NOTHING


def apply_shipments(
    connection: Connection,
    changes: list[tuple[Any, ...]],
    audit: AuditSource,
    now: dt.datetime,
) -> None:
    """Write shipment details and their audit trail, in the caller's transaction.

    ``changes``: tuples (item_id, status, shipped_date as YYYY-MM-DD text, carrier,
    tracking_number, row_number), each item at most once. Each change becomes one
    ``item_changes`` row (the item, ``audit``'s file, the row number, every field before
    and after), which the view ``audit`` shows as one row per changed field. With a file,
    the row's source and time stay NULL (they are the file's name and time on its ledger
    row); without one, ``audit.source`` and ``now`` are written.

    The values before are read by the database in the statements that change the items,
    never taken from an earlier read: on PostgreSQL another transaction may have changed
    an item since the import looked it up (its rows are locked, FOR UPDATE, as they are
    read). SQLite: the rows go into a temporary table as one JSON parameter, then one
    ``INSERT ... SELECT`` and one ``UPDATE ... FROM``, run in C with the GIL released
    (executemany takes the GIL back for every row, and waits for it while the import's
    read-ahead thread computes). PostgreSQL: COPY into the temporary table, then one
    statement that locks and reads the items, writes the changes and updates the items.
    """
    if not changes:
        return
    stamp = timestamp_value(connection, now)
    email = True if audit.email_requested else None
    if audit.file_id is None:
        recorded: tuple[Any, ...] = (audit.file_id, audit.source, stamp, email)
    else:  # the file's ledger row holds its name and the time (see the view audit)
        recorded = (audit.file_id, None, None, email)
    # The webhook events: id prefix, file, source, created_at, pending_since, next_attempt_at.
    events = (new_id_prefix(), audit.file_id, audit.source[:300], stamp, stamp, stamp)
    webhook = audit.notify.webhook
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(SHIPMENTS_CREATE_SQL)
        copy_rows(connection, SHIPMENTS_TABLE, (*SHIPMENTS_COLUMNS, "row_number"), changes)
        if webhook:
            connection.exec_driver_sql(_POSTGRESQL_APPLY_EVENTS_SQL, (*recorded, *events, stamp))
        else:
            connection.exec_driver_sql(_POSTGRESQL_APPLY_SQL, (*recorded, stamp))
    else:
        changes_before = last_change_id(connection) if webhook else 0
        connection.exec_driver_sql(SHIPMENTS_CREATE_SQL.replace(" ON COMMIT DROP", ""))
        payload = json.dumps(changes, allow_nan=False)
        if sqlite3.sqlite_version_info >= (3, 38) and "\\u0000" not in payload:
            # (json_extract ends a text at NUL: such rows take the executemany way.)
            connection.exec_driver_sql(_SHIPMENTS_FROM_JSON_SQL, (payload,))
        else:
            execute_many(connection, _SHIPMENTS_INSERT_SQL, changes)
        connection.exec_driver_sql(_CHANGES_FROM_SHIPMENTS_SQL, recorded)
        if webhook:
            connection.exec_driver_sql(
                webhook_events_sql(connection.dialect.name), (*events, changes_before)
            )
        if sqlite3.sqlite_version_info >= (3, 33):
            connection.exec_driver_sql(_UPDATE_SQL, (stamp,))
        else:  # SQLite before 3.33 has no UPDATE ... FROM
            execute_many(
                connection,
                "UPDATE items SET status = ?, shipped_date = ?, carrier = ?, tracking_number = ?,"
                " updated_at = ? WHERE id = ?",
                [
                    (status, shipped, carrier, tracking, stamp, item_id)
                    for item_id, status, shipped, carrier, tracking, _row in changes
                ],
            )
    connection.exec_driver_sql(f"DROP TABLE {SHIPMENTS_TABLE}")


# The temporary table lives for one chunk (dropped after its UPDATE; on PostgreSQL ON
# COMMIT DROP also covers a rolled-back transaction, on SQLite the rollback does).
# bench/ times the same statements issued directly as the floor of an import on PostgreSQL.
SHIPMENTS_TABLE = "ftpbridge_shipments"
SHIPMENTS_COLUMNS = ("item_id", "status", "shipped_date", "carrier", "tracking_number")
SHIPMENTS_CREATE_SQL = (
    f"CREATE TEMPORARY TABLE {SHIPMENTS_TABLE} (item_id varchar(64) NOT NULL,"
    " status varchar(20) NOT NULL, shipped_date date, carrier varchar(40),"
    " tracking_number varchar(100), row_number integer) ON COMMIT DROP"
)
SHIPMENTS_UPDATE_SQL = (
    "UPDATE items SET status = s.status, shipped_date = s.shipped_date,"
    " carrier = s.carrier, tracking_number = s.tracking_number, updated_at = %s"
    " FROM ftpbridge_shipments AS s WHERE items.id = s.item_id"
)
_UPDATE_SQL = SHIPMENTS_UPDATE_SQL.replace("%s", "?")
_SHIPMENTS_INSERT_SQL = "INSERT INTO ftpbridge_shipments VALUES (?, ?, ?, ?, ?, ?)"
_SHIPMENTS_FROM_JSON_SQL = (
    "INSERT INTO ftpbridge_shipments SELECT json_extract(value, '$[0]'),"
    " json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'),"
    " json_extract(value, '$[4]'), json_extract(value, '$[5]') FROM json_each(?)"
)
# One item_changes row per change: the item's values before (read here), and after.
_CHANGES_FROM_SHIPMENTS_SQL = (
    "INSERT INTO item_changes (item_id, file_id, row_number, source, changed_at,"
    " old_status, new_status, old_shipped_date, new_shipped_date, old_carrier, new_carrier,"
    " old_tracking_number, new_tracking_number, email_requested)"
    " SELECT s.item_id, ?, s.row_number, ?, ?, items.status, s.status,"
    " items.shipped_date, s.shipped_date, items.carrier, s.carrier, items.tracking_number,"
    " s.tracking_number, ? FROM ftpbridge_shipments AS s JOIN items ON items.id = s.item_id"
    " ORDER BY s.rowid"
)
# PostgreSQL, one statement: the items are locked and read first (FOR UPDATE waits for a
# concurrent writer, then reads its committed values), their changes are written from
# that read, and the items updated from it too (the UPDATE reads the CTE, so the locking
# read runs before any row is changed: a row this statement had changed already would be
# skipped by FOR UPDATE).
_POSTGRESQL_APPLY_SQL = (
    "WITH before AS (SELECT items.id, s.row_number, items.status,"
    " CAST(items.shipped_date AS TEXT) AS shipped_date, items.carrier, items.tracking_number,"
    " s.status AS new_status, s.shipped_date AS new_shipped_date, s.carrier AS new_carrier,"
    " s.tracking_number AS new_tracking_number FROM items"
    " JOIN ftpbridge_shipments AS s ON s.item_id = items.id FOR UPDATE OF items),"
    " recorded AS (INSERT INTO item_changes (item_id, file_id, row_number, source,"
    " changed_at, old_status, new_status, old_shipped_date, new_shipped_date, old_carrier,"
    " new_carrier, old_tracking_number, new_tracking_number, email_requested)"
    " SELECT id, %s, row_number, %s, %s, status, new_status, shipped_date,"
    " CAST(new_shipped_date AS TEXT), carrier, new_carrier, tracking_number,"
    " new_tracking_number, %s FROM before ORDER BY row_number)"
    " UPDATE items SET status = before.new_status, shipped_date = before.new_shipped_date,"
    " carrier = before.new_carrier, tracking_number = before.new_tracking_number,"
    " updated_at = %s FROM before WHERE items.id = before.id"
)
# The same, writing each change's webhook event too (issue 15; see store/outbox.py).
_POSTGRESQL_APPLY_EVENTS_SQL = with_webhook_events(_POSTGRESQL_APPLY_SQL)


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
    query = query.order_by(*_NATURAL_ORDER)
    if limit is not None:
        query = query.limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]


def count_by_status(connection: Connection) -> dict[tuple[str | None, str], int]:
    """(partner, status) → number of items."""
    query = select(items.c.partner, items.c.status, func.count()).group_by(
        items.c.partner, items.c.status
    )
    return {(partner, status): count for partner, status, count in connection.execute(query)}
