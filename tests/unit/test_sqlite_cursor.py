"""SQLite: statements through the sqlite3 cursor under a Connection (store.engine's
sqlite_cursor) stay in its transaction, are interrupted by statement_deadline, and fail
as exec_driver_sql's do (SQLAlchemy's exceptions)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from ftpbridge.store import open_store
from ftpbridge.store.engine import sqlite_cursor
from ftpbridge.store.limits import StoreTimeout, statement_deadline

_RUNAWAY = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"


def test_a_runaway_statement_through_the_cursor_is_interrupted(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        with (
            pytest.raises(StoreTimeout),
            store.begin() as connection,
            statement_deadline(connection, 0.2),
            sqlite_cursor(connection) as cursor,
        ):
            cursor.execute(_RUNAWAY)
    finally:
        store.close()


def test_the_cursor_is_in_the_transaction_and_fails_as_sqlalchemy(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        with store.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        with pytest.raises(IntegrityError), store.begin() as connection:
            with sqlite_cursor(connection) as cursor:
                cursor.execute("INSERT INTO t VALUES (1)")
                assert connection.connection.driver_connection.in_transaction  # type: ignore[union-attr]
                cursor.execute("INSERT INTO t VALUES (1)")
        with store.connect() as connection:  # rolled back with the block: the first too
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 0
    finally:
        store.close()


def test_on_a_connection_without_a_transaction_the_cursor_begins_one(tmp_path: Path) -> None:
    """Through a reading connection (store.connect) a statement is not committed on its
    own: the cursor begins a transaction as exec_driver_sql would, and rollback undoes it."""
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        with store.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        with store.connect() as connection:
            with sqlite_cursor(connection) as cursor:
                cursor.execute("INSERT INTO t VALUES (1)")
            assert connection.in_transaction()
            connection.rollback()
        with store.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 0
    finally:
        store.close()
