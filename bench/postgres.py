"""Import on PostgreSQL against its floor.

    python -m bench.postgres [--lines 100000] [--repeat 3]

ftpbridge: ``import_file`` of a fulfiller's file with every line shipped (read, validate,
look up, COPY into a temporary table + one ``UPDATE ... FROM``, audit rows by COPY, ledger,
report), on a PostgreSQL store holding ``lines`` pending lines.

floor: the plainest code doing the same change: ``read_csv(dtype=str)`` of the whole
file, COPY of its rows into the same temporary table, the same ``UPDATE ... FROM`` issued
directly, one commit. Target: ftpbridge ≤ 2 × floor.

Each measurement runs on a fresh copy of the same database (``CREATE DATABASE ...
TEMPLATE``); the best of ``repeat`` runs counts. The cluster is a throwaway one
(tests/postgres.py), like the tests'.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

_CHECKOUT = str(Path(__file__).resolve().parents[1])
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from ftpbridge.exchange.partners import partner_layout  # noqa: E402
from ftpbridge.files.exporting import export_partner  # noqa: E402
from ftpbridge.files.importing import import_file  # noqa: E402
from ftpbridge.settings import build_settings  # noqa: E402
from ftpbridge.store import open_store  # noqa: E402
from ftpbridge.store.shipments import (  # noqa: E402
    SHIPMENTS_COLUMNS,
    SHIPMENTS_CREATE_SQL,
    SHIPMENTS_TABLE,
    SHIPMENTS_UPDATE_SQL,
)
from tests.postgres import PostgresServer, start_postgres  # noqa: E402

PARTNER = "acme"
UPS = "1Z5R89390357567127"
TARGET_RATIO = 2.0


def _settings(work: Path, url: str) -> Any:
    return build_settings(
        {
            "store": {"url": url},
            "daemon": {"state_dir": str(work / "state")},
            "partners": {PARTNER: {"default": True, "settle_seconds": 0}},
        },
        config_path=work / "config.toml",
    )


def _fill(conninfo: str, lines: int, now: dt.datetime) -> None:
    """``lines`` pending lines for acme, two per order, straight in by COPY."""
    # One second apart, all of them at least 3 days old: at 1,000,000 lines the orders span
    # almost 6 days, and none may lie after the shipped date (today) or it is rejected.
    created = now - dt.timedelta(days=3, seconds=(lines + 1) // 2)
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        with cursor.copy(
            "COPY orders (id, created_at, email, ship_firstname, ship_lastname,"
            " ship_address1, ship_address2, ship_city, ship_state, ship_postal_code,"
            " ship_country, ship_phone, loaded_at, updated_at) FROM STDIN"
        ) as copy:
            for order in range((lines + 1) // 2):
                copy.write_row(
                    (
                        str(10_000_000 + order),
                        created + dt.timedelta(seconds=order),
                        f"fan{order}@example.com",
                        "Ada",
                        "Lovelace",
                        f"{order} Main Street",
                        "",
                        "London",
                        "",
                        "SW1A 1AA",
                        "GB",
                        "+44 20 7946 0958",
                        now,
                        now,
                    )
                )
        with cursor.copy(
            "COPY items (id, order_id, sku_id, warehouse_sku, upc, product_name,"
            " product_type, attributes, quantity, partner, status, updated_at) FROM STDIN"
        ) as copy:
            for line in range(lines):
                copy.write_row(
                    (
                        str(50_000_000 + line),
                        str(10_000_000 + line // 2),
                        "27",
                        "55666",
                        "22-2222-224",
                        "Hoodie",
                        "merchandise",
                        "Size: L",
                        1,
                        PARTNER,
                        "pending",
                        now,
                    )
                )
        cursor.execute("ANALYZE")


def _shipped_file(export: Path, target: Path, today: dt.date) -> int:
    frame = pd.read_csv(export, dtype=str, keep_default_na=False)
    frame["shipped"] = "TRUE"
    frame["shipped_date"] = today.isoformat()
    frame["carrier"] = "UPS"
    frame["tracking_number"] = UPS
    frame.to_csv(target, index=False)
    return len(frame)


def _ours(work: Path, url: str, path: Path, now: dt.datetime) -> tuple[float, int]:
    settings = _settings(work, url)
    partner = settings.partners[PARTNER]
    store = open_store(url)
    try:
        started = time.perf_counter()
        result = import_file(
            store,
            partner,
            partner_layout(settings, partner),
            path,
            now=now,
            report_path=work / "report.csv",
            max_file_bytes=1 << 40,
        )
        seconds = time.perf_counter() - started
    finally:
        store.close()
    if result.status != "applied" and result.applied == 0:
        raise RuntimeError(f"the import did not apply: {result.status} {result.message}")
    return seconds, result.applied


def _floor(conninfo: str, path: Path, now: dt.datetime) -> tuple[float, int]:
    started = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = zip(
        frame["item_id"].tolist(),
        ["shipped"] * len(frame),
        frame["shipped_date"].tolist(),
        frame["carrier"].tolist(),
        frame["tracking_number"].tolist(),
        strict=True,
    )
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        cursor.execute(SHIPMENTS_CREATE_SQL)
        columns = ", ".join(SHIPMENTS_COLUMNS)
        with cursor.copy(f"COPY {SHIPMENTS_TABLE} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(SHIPMENTS_UPDATE_SQL, (now,))
        updated = cursor.rowcount
        connection.commit()
    return time.perf_counter() - started, updated


def run_postgres_import_bench(
    lines: int, *, repeat: int = 3, server: PostgresServer | None = None
) -> list[dict[str, Any]]:
    """Import of ``lines`` shipped lines on PostgreSQL: ftpbridge against its floor.

    Returns rows ``{"step", "ftpbridge_s", "floor_s", "ratio", "lines", "target"}``.
    """
    own = server is None
    server = server or start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="ftpbridge-bench-pg-") as folder:
            work = Path(folder)
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            base_url = server.create_database(f"bench_base_{os.getpid()}")
            base = base_url.rsplit("/", 1)[1]
            open_store(base_url).close()  # migrated by ftpbridge
            _fill(server.conninfo(base), lines, now)
            # The fulfiller's answer to a real export (written from a copy of the base).
            export_url = server.create_database(template=base)
            settings = _settings(work, export_url)
            store = open_store(export_url)
            try:
                export = export_partner(
                    store,
                    settings.partners[PARTNER],
                    partner_layout(settings, settings.partners[PARTNER]),
                    work / "out",
                    now=now,
                )
            finally:
                store.close()
            server.drop_database(export_url.rsplit("/", 1)[1])
            shipped = work / "orders_updated_1.csv"
            count = _shipped_file(export.path, shipped, now.date())
            ours: list[float] = []
            floors: list[float] = []
            for _ in range(repeat):
                url = server.create_database(template=base)
                seconds, applied = _ours(work, url, shipped, now)
                server.drop_database(url.rsplit("/", 1)[1])
                if applied != count:
                    raise RuntimeError(f"ftpbridge applied {applied} of {count} lines")
                ours.append(seconds)
                url = server.create_database(template=base)
                database = url.rsplit("/", 1)[1]
                seconds, updated = _floor(server.conninfo(database), shipped, now)
                server.drop_database(database)
                if updated != count:
                    raise RuntimeError(f"the floor updated {updated} of {count} lines")
                floors.append(seconds)
            server.drop_database(base)
    finally:
        if own:
            server.stop()
    best, floor = min(ours), min(floors)
    return [
        {
            "step": "import (PostgreSQL)",
            "lines": count,
            "ftpbridge_s": round(best, 3),
            "floor_s": round(floor, 3),
            "ratio": round(best / floor, 2),
            "target": f"<= {TARGET_RATIO:g} x floor",
        }
    ]


def run_postgres_api_bench(lines: int, requests: int, update_rounds: int) -> dict[str, Any]:
    """The Orders API rows (bench/api.py) on a PostgreSQL store holding ``lines`` pending
    lines for acme, in a throwaway cluster of its own; runs in its own process."""
    from bench.api import api_bench_on, postgres_backend

    server = start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="ftpbridge-bench-pg-api-") as folder:
            url = server.create_database(f"bench_api_{os.getpid()}")
            open_store(url).close()  # migrated by ftpbridge
            database = url.rsplit("/", 1)[1]
            _fill(server.conninfo(database), lines, dt.datetime.now(dt.UTC))
            backend = postgres_backend(url, server.conninfo(database))
            return api_bench_on(Path(folder), backend, requests, update_rounds)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.postgres", description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    arguments = parser.parse_args(argv)
    rows = run_postgres_import_bench(arguments.lines, repeat=arguments.repeat)
    if arguments.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(
                f"{row['step']:<22} {row['lines']:>9,} lines  ftpbridge {row['ftpbridge_s']:7.2f} s"
                f"  floor {row['floor_s']:7.2f} s  ratio {row['ratio']:5.2f}  ({row['target']})"
            )
    return 0 if all(row["ratio"] <= TARGET_RATIO for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
