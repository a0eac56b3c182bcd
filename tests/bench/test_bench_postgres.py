"""bench/postgres.py: ftpbridge's import on PostgreSQL next to its floor (tiny run)."""

from __future__ import annotations

import sys
from pathlib import Path

_CHECKOUT = str(Path(__file__).resolve().parents[2])
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from bench.postgres import run_postgres_import_bench  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402


def test_postgres_import_row_has_both_timings(pg_server: PostgresServer) -> None:
    """500 lines: every line applied by both ftpbridge and the floor (checked inside), and
    the row carries step, seconds, floor and ratio; the template databases are dropped."""
    (row,) = run_postgres_import_bench(500, repeat=1, server=pg_server)
    assert row["step"] == "import (PostgreSQL)"
    assert row["lines"] == 500
    assert row["ftpbridge_s"] > 0 and row["floor_s"] > 0
    assert row["ratio"] > 0
    with pg_server.connect() as connection:
        names = [name for (name,) in connection.execute("SELECT datname FROM pg_database")]
    assert not [name for name in names if name.startswith("bench_base")]
