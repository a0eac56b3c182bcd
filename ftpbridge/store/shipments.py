"""Shipments applied: an import's (or an API update's, or a change by hand) shipment
details written to the items in the caller's transaction, with their audit trail
(``item_changes``) and, where asked, their outbox events, the values before read by the
database in the same statements (``apply_shipments``, from an ``AuditSource``).

bench/ (``postgres``, ``api``) issues these statements directly as the floor of an import.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ftpbridge.store.engine import copy_rows, sqlite_cursor, timestamp_value
from ftpbridge.store.outbox import (
    NOTHING,
    Notify,
    last_change_id,
    new_id_prefix,
    webhook_events_sql,
    with_webhook_events,
)


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
    read). SQLite: the rows go into a temporary table a hundred per statement
    (:func:`sqlite_inserts`), then one ``INSERT ... SELECT`` and one ``UPDATE ... FROM``,
    run in C with the GIL released (executemany takes the GIL back for every row, and
    waits for it while the import's read-ahead thread computes). PostgreSQL: COPY into
    the temporary table, then one statement that locks and reads the items, writes the
    changes and updates the items.
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
        connection.exec_driver_sql(f"DROP TABLE {SHIPMENTS_TABLE}")
        return
    changes_before = last_change_id(connection) if webhook else 0
    # Straight through sqlite3's cursor, in the same transaction (sqlite_cursor): the same
    # statements without SQLAlchemy's execution context around each.
    with sqlite_cursor(connection) as cursor:
        cursor.execute(SHIPMENTS_CREATE_SQL.replace(" ON COMMIT DROP", ""))
        for sql, values in sqlite_inserts(changes):
            (cursor.executemany if isinstance(values, list) else cursor.execute)(sql, values)
        cursor.execute(_CHANGES_FROM_SHIPMENTS_SQL, recorded)
        if webhook:
            cursor.execute(webhook_events_sql(connection.dialect.name), (*events, changes_before))
        if sqlite3.sqlite_version_info >= (3, 33):
            cursor.execute(_UPDATE_SQL, (stamp,))
        else:  # SQLite before 3.33 has no UPDATE ... FROM
            cursor.executemany(
                "UPDATE items SET status = ?, shipped_date = ?, carrier = ?, tracking_number = ?,"
                " updated_at = ? WHERE id = ?",
                [
                    (status, shipped, carrier, tracking, stamp, item_id)
                    for item_id, status, shipped, carrier, tracking, _row in changes
                ],
            )
        cursor.execute(f"DROP TABLE {SHIPMENTS_TABLE}")


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
# SQLite: the rows go into the temporary table a hundred at a time (VALUES (?, ...), (?, ...),
# ...; 600 markers, under any SQLite's limit): bound in C, run with the GIL released, each
# statement prepared once per transaction (creating the temporary table makes SQLite
# prepare its statements again). 1,000 rows: 0.9 ms, where one JSON parameter (json.dumps,
# json_each and json_extract) took 1.8 ms, and a statement of all the rows 1.8 ms too.
_SHIPMENTS_INSERT_SQL = "INSERT INTO ftpbridge_shipments VALUES "
_SHIPMENTS_ROW = "(?, ?, ?, ?, ?, ?)"
SQLITE_INSERT_ROWS = 100


def sqlite_inserts(changes: list[tuple[Any, ...]]) -> Iterator[tuple[str, Any]]:
    """SQLite: the statements that put ``changes`` (apply_shipments' tuples) into the
    temporary table, with their values: a list of tuples (executemany) for the full
    hundreds, a tuple for the rest. bench/api.py times the same as the floor."""
    full = len(changes) - len(changes) % SQLITE_INSERT_ROWS
    flat = itertools.chain.from_iterable
    if full:
        sql = _SHIPMENTS_INSERT_SQL + ", ".join([_SHIPMENTS_ROW] * SQLITE_INSERT_ROWS)
        yield (
            sql,
            [
                tuple(flat(changes[start : start + SQLITE_INSERT_ROWS]))
                for start in range(0, full, SQLITE_INSERT_ROWS)
            ],
        )
    if full < len(changes):
        sql = _SHIPMENTS_INSERT_SQL + ", ".join([_SHIPMENTS_ROW] * (len(changes) - full))
        yield sql, tuple(flat(changes[full:]))


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
