"""SQLite: apply_shipments' rows reach the temporary table whole and in order, however
many there are (a hundred per statement, the rest in one more)."""

from __future__ import annotations

import sqlite3

import pytest

from ftpbridge.store import shipments


@pytest.mark.parametrize("count", [1, 99, 100, 101, 250])
def test_every_row_goes_into_the_temporary_table_in_order(count: int) -> None:
    changes = [
        (f"item-{n}", "shipped", "2026-11-22", "UPS", f"1Z{n:016d}", n + 1) for n in range(count)
    ]
    changes[0] = ("nul\x00inside", "pending", None, None, None, 1)  # bound as it is
    connection = sqlite3.connect(":memory:", isolation_level=None)
    connection.execute(shipments.SHIPMENTS_CREATE_SQL.replace(" ON COMMIT DROP", ""))
    statements = list(shipments.sqlite_inserts(changes))
    for sql, values in statements:
        assert sql.count("?") <= 999  # any SQLite's limit of markers
        (connection.executemany if isinstance(values, list) else connection.execute)(sql, values)
    found = connection.execute("SELECT * FROM ftpbridge_shipments ORDER BY rowid").fetchall()
    assert found == changes
    assert len(statements) == (count >= 100) + (count % 100 > 0)
