"""An inventory file's stock changes, in bulk and in SQL, in the caller's transaction.

The file's rows go into a temporary staging table (``ftpbridge_stock``), a chunk at a
time; everything else happens in the database, so that memory does not grow with the file
and no Python loop runs over its rows:

1. :func:`stage_rows`: each row's key (``key_kind``: ``w`` a warehouse SKU, ``i`` a shop
   sku id, ``s`` either: warehouse SKU first), its quantities, and the problem its own
   cells have (``problem``: a reason text, or NULL).
2. :func:`decide`: rows matched to the partner's SKUs (by ``factory_sku``, then ``id``),
   with their quantities before; the same SKU on several rows (identical: a duplicate,
   unchanged; different: a conflict, every such row rejected); then each row's outcome
   (applied, unchanged, rejected) and reason.
3. :func:`zeroing`: what a snapshot would set to 0 (the partner's SKUs in stock that no
   row names, and rows that say 0), for the ``inventory_max_zeroed`` hold.
4. :func:`iter_decided` and :func:`iter_absent` for the report; :func:`apply` and
   :func:`zero_absent` write the changes and their ``stock_changes`` audit rows.

The values before are read under lock in the statements that change the SKUs on
PostgreSQL (another transaction, an API ``add``, may have changed them meanwhile); on
SQLite the writing transaction holds the database from its start.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ftpbridge.errors import StoreError
from ftpbridge.store.engine import copy_rows, driver_sql, execute_many, timestamp_value

STAGE = "ftpbridge_stock"
STAGE_COLUMNS = (
    "row_number",
    "key_kind",
    "key_text",
    "quantity",
    "backorder",
    "reserve",
    "problem",
)
KEY_MAX = 100  # the longest key that can match (factory_sku holds 100 characters)

_SQLITE_CREATE = (
    "CREATE TEMPORARY TABLE ftpbridge_stock (row_number INTEGER PRIMARY KEY,"
    " key_kind TEXT NOT NULL, key_text TEXT NOT NULL, quantity INTEGER, backorder INTEGER,"
    " reserve INTEGER,"
    " problem TEXT, sku_id TEXT, old_quantity INTEGER, old_backorder INTEGER,"
    " old_reserve INTEGER, outcome TEXT, reason TEXT)"
)
_POSTGRESQL_CREATE = (
    "CREATE TEMPORARY TABLE ftpbridge_stock (row_number integer NOT NULL,"
    " key_kind char(1) NOT NULL, key_text varchar(300) NOT NULL, quantity bigint,"
    " backorder bigint, reserve bigint,"
    " problem text, sku_id varchar(64), old_quantity integer, old_backorder integer,"
    " old_reserve integer, outcome varchar(10), reason text) ON COMMIT DROP"
)
_FROM_JSON = (
    f"INSERT INTO ftpbridge_stock ({', '.join(STAGE_COLUMNS)}) SELECT "  # noqa: S608
    + ", ".join(f"json_extract(value, '$[{index}]')" for index in range(len(STAGE_COLUMNS)))
    + " FROM json_each(?)"
)
_INSERT = (
    f"INSERT INTO ftpbridge_stock ({', '.join(STAGE_COLUMNS)}) VALUES"  # noqa: S608
    f" ({', '.join('?' for _ in STAGE_COLUMNS)})"
)


def create_stage(connection: Connection) -> None:
    """The staging table, for this transaction (dropped at its end, or by drop_stage)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_POSTGRESQL_CREATE)
    else:
        if sqlite3.sqlite_version_info < (3, 33):
            raise StoreError(
                f"SQLite {sqlite3.sqlite_version} is too old for inventory files"
                " (UPDATE ... FROM needs 3.33 or newer); nothing was changed",
                hint="run ftpbridge with a newer Python or SQLite, or use PostgreSQL",
            )
        connection.exec_driver_sql("DROP TABLE IF EXISTS temp.ftpbridge_stock")
        connection.exec_driver_sql(_SQLITE_CREATE)


def drop_stage(connection: Connection) -> None:
    connection.exec_driver_sql("DROP TABLE IF EXISTS ftpbridge_stock")


def stage_rows(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Add rows (tuples in STAGE_COLUMNS order: int, str, str, int|None x3, str|None).

    PostgreSQL: COPY. SQLite: one JSON parameter expanded by json_each, in C (executemany
    takes the GIL back for every row)."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        copy_rows(connection, STAGE, STAGE_COLUMNS, rows)
        return
    payload = json.dumps(rows, allow_nan=False, ensure_ascii=False)
    if sqlite3.sqlite_version_info >= (3, 38) and "\\u0000" not in payload:
        connection.exec_driver_sql(_FROM_JSON, (payload,))
    else:  # (json_extract ends a text at NUL: such rows take the executemany way)
        execute_many(connection, _INSERT, list(rows))


# --------------------------------------------------------------------------- deciding

# Matched by warehouse SKU (key kinds w and s), then by sku id (s and i), among the
# partner's SKUs only; the quantities before come with the match.
_MATCH = (
    "UPDATE ftpbridge_stock SET sku_id = skus.id, old_quantity = skus.in_stock_quantity,"
    " old_backorder = skus.max_backorder_quantity, old_reserve = skus.reserve_quantity"
    " FROM skus WHERE skus.partner = ? AND ftpbridge_stock.key_text <> '' AND "
)
_MATCH_WAREHOUSE = (
    _MATCH
    + "skus.factory_sku = ftpbridge_stock.key_text AND ftpbridge_stock.key_kind IN ('w', 's')"
)
_MATCH_ID = (
    _MATCH + "skus.id = ftpbridge_stock.key_text AND ftpbridge_stock.key_kind IN ('s', 'i')"
    " AND ftpbridge_stock.sku_id IS NULL"
)
# A warehouse SKU that two of the partner's SKUs carry names neither for sure.
_AMBIGUOUS = (
    "SELECT factory_sku FROM skus WHERE partner = ? AND factory_sku <> ''"
    " GROUP BY factory_sku HAVING count(*) > 1"
)
_NOT_AMBIGUOUS = (
    "UPDATE ftpbridge_stock SET sku_id = NULL, problem = 'the warehouse SKU ' || key_text ||"
    " ' is carried by several of the shop''s SKUs for ' || ? || '; ask the shop to"
    " correct them, or send the shop''s sku id' WHERE key_kind IN ('w', 's')"
    " AND key_text = ? AND problem IS NULL"
)
# Why an unmatched key is unknown: a SKU of another partner (or of none), or none at all.
_OWNER_BY_ID = (
    "UPDATE ftpbridge_stock SET reason = (SELECT COALESCE(skus.partner, '') FROM skus"
    " WHERE skus.id = ftpbridge_stock.key_text) WHERE sku_id IS NULL AND problem IS NULL"
    " AND key_kind IN ('s', 'i')"
)
_OWNER_BY_WAREHOUSE = (
    "UPDATE ftpbridge_stock SET reason = (SELECT COALESCE(min(skus.partner), '') FROM skus"
    " WHERE skus.factory_sku = ftpbridge_stock.key_text) WHERE sku_id IS NULL AND problem IS NULL"
    " AND reason IS NULL AND key_kind IN ('w', 's')"
    " AND EXISTS (SELECT 1 FROM skus WHERE skus.factory_sku = ftpbridge_stock.key_text)"
)
_UNKNOWN = (
    "UPDATE ftpbridge_stock SET outcome = 'rejected', reason = CASE"
    " WHEN reason IS NULL THEN 'no SKU ' || key_text || ' is known; check it, or ask the"
    " shop to add it to the catalogue'"
    " WHEN reason = '' THEN 'SKU ' || key_text || ' is not stocked by any partner yet;"
    " ask the shop to assign it to ' || ?"
    " ELSE 'SKU ' || key_text || ' is stocked by partner ' || reason || ', not ' || ? END"
    " WHERE sku_id IS NULL AND problem IS NULL"
)
_PROBLEMS = (
    "UPDATE ftpbridge_stock SET outcome = 'rejected', reason = problem WHERE problem IS NOT NULL"
)
# The same SKU on several rows: the same values everywhere, or not.
_SAME_VALUES = (
    "min(quantity) = max(quantity) AND min(COALESCE(backorder, -1)) ="
    " max(COALESCE(backorder, -1)) AND min(COALESCE(reserve, -1)) = max(COALESCE(reserve, -1))"
)
_GROUPS = (
    "SELECT sku_id, min(row_number) AS first, count(*) AS rows_count FROM ftpbridge_stock"
    " WHERE sku_id IS NOT NULL AND problem IS NULL GROUP BY sku_id HAVING count(*) > 1 AND "
)
_DUPLICATES = (
    "UPDATE ftpbridge_stock SET outcome = 'unchanged',"  # noqa: S608
    " reason = 'duplicate of row ' || CAST(g.first AS TEXT)"
    f" FROM ({_GROUPS}{_SAME_VALUES}) AS g WHERE ftpbridge_stock.sku_id = g.sku_id"
    " AND ftpbridge_stock.row_number > g.first AND ftpbridge_stock.problem IS NULL"
)
_CONFLICTS = (
    "UPDATE ftpbridge_stock SET outcome = 'rejected', reason = 'SKU ' || g.sku_id || ' is on '"  # noqa: S608
    " || CAST(g.rows_count AS TEXT) || ' rows with different quantities (the first is row '"
    " || CAST(g.first AS TEXT) || '); send it once'"
    f" FROM ({_GROUPS}NOT ({_SAME_VALUES})) AS g WHERE ftpbridge_stock.sku_id = g.sku_id"
    " AND ftpbridge_stock.problem IS NULL"
)
_SAME_AS_STORED = (
    "quantity = old_quantity AND COALESCE(backorder, old_backorder) = old_backorder"
    " AND COALESCE(reserve, old_reserve) = old_reserve"
)
_OUTCOMES = (
    f"UPDATE ftpbridge_stock SET outcome = CASE WHEN {_SAME_AS_STORED} THEN 'unchanged'"  # noqa: S608
    f" ELSE 'applied' END, reason = CASE WHEN {_SAME_AS_STORED} THEN 'no change'"
    " ELSE 'updated' END WHERE outcome IS NULL"
)


def decide(connection: Connection, partner: str) -> list[str]:
    """Match the staged rows to ``partner``'s SKUs and decide each (see the module doc).
    Returns the warehouse SKUs that several of the partner's SKUs carry (rows naming
    them are rejected; in a snapshot, those SKUs count as listed)."""
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        connection.exec_driver_sql("ANALYZE ftpbridge_stock")  # temporary tables have no statistics
    run = _runner(connection)
    run(_MATCH_WAREHOUSE, (partner,))
    run(_MATCH_ID, (partner,))
    ambiguous = [row[0] for row in run(_AMBIGUOUS, (partner,)).fetchall()]
    if ambiguous:
        execute_many(connection, _NOT_AMBIGUOUS, [(partner, key) for key in ambiguous])
    connection.exec_driver_sql("CREATE INDEX ftpbridge_stock_sku_id ON ftpbridge_stock (sku_id)")
    run(_OWNER_BY_ID)
    run(_OWNER_BY_WAREHOUSE)
    run(_UNKNOWN, (partner, partner))
    run(_PROBLEMS)
    run(_DUPLICATES)
    run(_CONFLICTS)
    run(_OUTCOMES)
    return ambiguous


def _runner(connection: Connection) -> Any:
    def run(sql: str, parameters: tuple[Any, ...] = ()) -> Any:
        return connection.exec_driver_sql(driver_sql(connection, sql), parameters)

    return run


def outcome_counts(connection: Connection) -> dict[str, int]:
    rows = connection.exec_driver_sql(
        "SELECT outcome, count(*) FROM ftpbridge_stock GROUP BY outcome"
    )
    return {str(outcome): int(count) for outcome, count in rows}


@dataclass(frozen=True)
class Zeroing:
    """What a snapshot would set to 0: of the partner's SKUs in stock (``in_stock``),
    those no row names (``absent``) and those a row sets to 0 (``listed_zero``)."""

    in_stock: int
    absent: int
    listed_zero: int

    @property
    def would_zero(self) -> int:
        return self.absent + self.listed_zero

    def share(self) -> float:
        return self.would_zero / self.in_stock if self.in_stock else 0.0


def _absent_condition(ambiguous: Sequence[str]) -> str:
    condition = (
        "skus.partner = ? AND skus.in_stock_quantity > 0"
        " AND NOT EXISTS (SELECT 1 FROM ftpbridge_stock WHERE ftpbridge_stock.sku_id = skus.id)"
    )
    if ambiguous:
        condition += f" AND skus.factory_sku NOT IN ({', '.join('?' for _ in ambiguous)})"
    return condition


def zeroing(connection: Connection, partner: str, ambiguous: Sequence[str]) -> Zeroing:
    run = _runner(connection)
    in_stock = run(
        "SELECT count(*) FROM skus WHERE partner = ? AND in_stock_quantity > 0", (partner,)
    ).scalar()
    absent = run(
        f"SELECT count(*) FROM skus WHERE {_absent_condition(ambiguous)}",  # noqa: S608
        (partner, *ambiguous),
    ).scalar()
    listed_zero = run(
        "SELECT count(*) FROM ftpbridge_stock WHERE outcome = 'applied' AND quantity = 0"
        " AND old_quantity > 0"
    ).scalar()
    return Zeroing(int(in_stock or 0), int(absent or 0), int(listed_zero or 0))


# --------------------------------------------------------------------------- reading back

DECIDED_COLUMNS = (
    "row",
    "sku",
    "sku_id",
    "outcome",
    "quantity_before",
    "quantity_after",
    "reason",
)


def iter_decided(connection: Connection, batch: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    """The staged rows in file order, as tuples in DECIDED_COLUMNS order (quantity_after:
    what the SKU has once the file is applied; the quantity before for a rejected row)."""
    result = connection.exec_driver_sql(
        "SELECT row_number, key_text, sku_id, outcome, old_quantity,"
        " CASE WHEN outcome = 'rejected' THEN old_quantity ELSE quantity END, reason"
        " FROM ftpbridge_stock ORDER BY row_number"
    )
    try:
        while rows := result.cursor.fetchmany(batch):
            yield list(rows)
    finally:
        result.close()


def iter_absent(
    connection: Connection, partner: str, ambiguous: Sequence[str], batch: int = 50_000
) -> Iterator[list[tuple[Any, ...]]]:
    """The partner's SKUs in stock that no row names: (sku id, warehouse SKU, in stock)."""
    result = connection.exec_driver_sql(
        driver_sql(
            connection,
            "SELECT skus.id, skus.factory_sku, skus.in_stock_quantity FROM skus"  # noqa: S608
            f" WHERE {_absent_condition(ambiguous)} ORDER BY length(skus.id), skus.id",
        ),
        (partner, *ambiguous),
    )
    try:
        while rows := result.cursor.fetchmany(batch):
            yield list(rows)
    finally:
        result.close()


# --------------------------------------------------------------------------- writing

_AUDIT_COLUMNS = (
    "sku_id, file_id, row_number, old_in_stock_quantity, new_in_stock_quantity,"
    " old_reserve_quantity, new_reserve_quantity, old_max_backorder_quantity,"
    " new_max_backorder_quantity"
)
_SQLITE_AUDIT = (
    f"INSERT INTO stock_changes ({_AUDIT_COLUMNS}) SELECT sku_id, ?, row_number,"  # noqa: S608
    " old_quantity, quantity, old_reserve, COALESCE(reserve, old_reserve), old_backorder,"
    " COALESCE(backorder, old_backorder) FROM ftpbridge_stock WHERE outcome = 'applied'"
    " ORDER BY row_number"
)
_SQLITE_APPLY = (
    "UPDATE skus SET in_stock_quantity = s.quantity,"
    " reserve_quantity = COALESCE(s.reserve, skus.reserve_quantity),"
    " max_backorder_quantity = COALESCE(s.backorder, skus.max_backorder_quantity),"
    " updated_at = ? FROM ftpbridge_stock AS s WHERE skus.id = s.sku_id AND s.outcome = 'applied'"
)
# PostgreSQL, one statement: lock and read the SKUs, audit from that read, update.
_POSTGRESQL_APPLY = (
    "WITH before AS (SELECT skus.id, s.row_number, skus.in_stock_quantity AS old_q,"  # noqa: S608
    " skus.reserve_quantity AS old_r, skus.max_backorder_quantity AS old_b, s.quantity AS q,"
    " COALESCE(s.reserve, skus.reserve_quantity) AS r,"
    " COALESCE(s.backorder, skus.max_backorder_quantity) AS b"
    " FROM skus JOIN ftpbridge_stock AS s ON s.sku_id = skus.id WHERE s.outcome = 'applied'"
    " FOR UPDATE OF skus),"
    f" recorded AS (INSERT INTO stock_changes ({_AUDIT_COLUMNS})"
    " SELECT id, %s, row_number, old_q, q, old_r, r, old_b, b FROM before ORDER BY row_number)"
    " UPDATE skus SET in_stock_quantity = before.q, reserve_quantity = before.r,"
    " max_backorder_quantity = before.b, updated_at = %s FROM before WHERE skus.id = before.id"
)


def apply(connection: Connection, file_id: int, now: dt.datetime) -> None:
    """Write the applied rows' quantities and their audit rows (``file_id``'s)."""
    stamp = timestamp_value(connection, now)
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_POSTGRESQL_APPLY, (file_id, stamp))
        return
    connection.exec_driver_sql(_SQLITE_AUDIT, (file_id,))
    connection.exec_driver_sql(_SQLITE_APPLY, (stamp,))


def zero_absent(
    connection: Connection, partner: str, ambiguous: Sequence[str], file_id: int, now: dt.datetime
) -> int:
    """A snapshot: set the partner's SKUs in stock that no row names to 0, audited (no
    row number). Returns how many."""
    stamp = timestamp_value(connection, now)
    condition = _absent_condition(ambiguous)
    if connection.dialect.name == "postgresql":
        sql = (
            "WITH before AS (SELECT skus.id, skus.in_stock_quantity AS old_q,"  # noqa: S608
            " skus.reserve_quantity AS r, skus.max_backorder_quantity AS b FROM skus"
            f" WHERE {condition} FOR UPDATE OF skus),"
            f" recorded AS (INSERT INTO stock_changes ({_AUDIT_COLUMNS})"
            " SELECT id, ?, NULL, old_q, 0, r, r, b, b FROM before ORDER BY id)"
            " UPDATE skus SET in_stock_quantity = 0, updated_at = ? FROM before"
            " WHERE skus.id = before.id"
        )
        return int(
            connection.exec_driver_sql(
                driver_sql(connection, sql), (partner, *ambiguous, file_id, stamp)
            ).rowcount
        )
    connection.exec_driver_sql(
        f"INSERT INTO stock_changes ({_AUDIT_COLUMNS}) SELECT id, ?, NULL, in_stock_quantity,"  # noqa: S608
        " 0, reserve_quantity, reserve_quantity, max_backorder_quantity,"
        f" max_backorder_quantity FROM skus WHERE {condition}",
        (file_id, partner, *ambiguous),
    )
    return int(
        connection.exec_driver_sql(
            f"UPDATE skus SET in_stock_quantity = 0, updated_at = ? WHERE {condition}",  # noqa: S608
            (stamp, partner, *ambiguous),
        ).rowcount
    )
