"""The measured steps. Each runs in a fresh process (see ``bench.__main__.run_isolated``)
and returns a dict with at least ``seconds``; the caller adds the process's peak RSS.

Every floor does the same job as ftpbridge with the plainest code that could do it, on the
same files and (a copy of) the same database, so that the ratio shows what ftpbridge's own
work costs.
"""

from __future__ import annotations

import datetime as dt
import ftplib
import logging
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench.data import PARTNER, build_store, write_shipped_file
from ftpbridge.exchange.partners import partner_layout
from ftpbridge.exchange.poll import poll_once
from ftpbridge.files.exporting import export_partner
from ftpbridge.files.importing import import_file
from ftpbridge.settings import Settings, build_settings
from ftpbridge.store import open_store

# The SELECT export runs, written for the plain cursor of the floor.
EXPORT_SQL = (
    "SELECT orders.id, orders.created_at, items.id, items.sku_id, items.warehouse_sku,"
    " items.upc, items.product_name, items.product_type, items.attributes, items.quantity,"
    " orders.ship_firstname, orders.ship_lastname, orders.ship_address1,"
    " orders.ship_address2, orders.ship_city, orders.ship_state, orders.ship_postal_code,"
    " orders.ship_country, orders.ship_phone, orders.email, items.status,"
    " items.shipped_date, items.carrier, items.tracking_number"
    " FROM items JOIN orders ON items.order_id = orders.id"
    " WHERE items.partner = ? AND items.status IN ('pending', 'acknowledged')"
    " ORDER BY orders.created_at, length(orders.id), orders.id, length(items.id), items.id"
)
FLOOR_BATCH = 20_000


def settings_for(work: Path, database: Path, partner: dict[str, Any] | None = None) -> Settings:
    """Settings with one partner ``acme`` (manual-only unless ``partner`` adds a transport)."""
    table: dict[str, Any] = {"default": True, "settle_seconds": 0}
    table.update(partner or {})
    return build_settings(
        {
            "store": {"url": f"sqlite:///{database}"},
            "daemon": {"state_dir": str(work / "state")},
            "partners": {PARTNER: table},
        },
        config_path=work / "config.toml",
    )


def _timed_since(start: float) -> float:
    return time.perf_counter() - start


def build(database: Path, lines: int, now: dt.datetime) -> dict[str, Any]:
    start = time.perf_counter()
    counts = build_store(database, lines, now)
    return {"seconds": _timed_since(start), **counts}


def export_ours(work: Path, database: Path, folder: Path, now: dt.datetime) -> dict[str, Any]:
    settings = settings_for(work, database)
    partner = settings.partners[PARTNER]
    layout = partner_layout(settings, partner)
    store = open_store(settings.store_url)
    start = time.perf_counter()
    result = export_partner(store, partner, layout, folder, now=now)
    seconds = _timed_since(start)
    store.close()
    return {"seconds": seconds, "rows": result.rows, "path": str(result.path), "bytes": result.size}


def export_floor(database: Path, target: Path) -> dict[str, Any]:
    """A plain cursor over the same rows, ``DataFrame.to_csv`` per batch."""
    start = time.perf_counter()
    connection = sqlite3.connect(database)
    cursor = connection.execute(EXPORT_SQL, (PARTNER,))
    columns = [description[0] for description in cursor.description]
    rows = 0
    with target.open("w", encoding="utf-8", newline="") as handle:
        while batch := cursor.fetchmany(FLOOR_BATCH):
            pd.DataFrame.from_records(batch, columns=columns).to_csv(
                handle, index=False, header=rows == 0, lineterminator="\r\n"
            )
            rows += len(batch)
    connection.close()
    return {"seconds": _timed_since(start), "rows": rows}


def shipped_file(export_file: Path, target: Path, today: dt.date) -> dict[str, Any]:
    start = time.perf_counter()
    rows = write_shipped_file(export_file, target, today)
    return {"seconds": _timed_since(start), "rows": rows}


def import_ours(
    work: Path, database: Path, path: Path, now: dt.datetime, report: Path
) -> dict[str, Any]:
    settings = settings_for(work, database)
    partner = settings.partners[PARTNER]
    layout = partner_layout(settings, partner)
    store = open_store(settings.store_url)
    start = time.perf_counter()
    result = import_file(
        store, partner, layout, path, now=now, report_path=report, max_file_bytes=1 << 40
    )
    seconds = _timed_since(start)
    store.close()
    return {
        "seconds": seconds,
        "status": result.status,
        "rows": result.rows,
        "applied": result.applied,
        "unchanged": result.unchanged,
        "rejected": result.rejected,
        "message": result.message,
    }


def import_floor(database: Path, path: Path, now: dt.datetime) -> dict[str, Any]:
    """``read_csv(dtype=str)`` of the whole file, one executemany UPDATE by primary key,
    one commit: the same pragmas as ftpbridge's store (WAL, synchronous=NORMAL)."""
    start = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        "UPDATE items SET status = 'shipped', shipped_date = ?, carrier = ?,"
        " tracking_number = ?, updated_at = ? WHERE id = ?",
        zip(
            frame["shipped_date"].tolist(),
            frame["carrier"].tolist(),
            frame["tracking_number"].tolist(),
            [stamp] * len(frame),
            frame["item_id"].tolist(),
            strict=True,
        ),
    )
    connection.execute("COMMIT")
    connection.close()
    return {"seconds": _timed_since(start), "rows": len(frame)}


def transfers(source: Path | None, size_mb: int) -> dict[str, Any]:
    """bench/transfer.py's comparison on ``source`` (the export) or a random file."""
    from bench.transfer import run_transfer_bench

    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    start = time.perf_counter()
    rows = run_transfer_bench(size_mb, source=source)
    return {"seconds": _timed_since(start), "rows": rows}


def poll(work: Path, database: Path, files: int, now: dt.datetime) -> dict[str, Any]:
    """``poll_once`` over an FTP inbox of ``files`` unrelated files, next to listing that
    inbox with raw ftplib (MLSD) on the same server."""
    from tests.servers import start_ftp_server

    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    home = Path(tempfile.mkdtemp(prefix="ftpbridge-bench-poll-", dir=work))
    inbox = home / "in"
    inbox.mkdir()
    for number in range(files):
        (inbox / f"IMG_{number:05d}.jpg").write_bytes(b"not for us\n")
    with start_ftp_server(home) as server:
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)  # serving set it to INFO
        settings = settings_for(
            work,
            database,
            {
                "transport": "ftp",
                "host": server.host,
                "port": server.port,
                "username": server.username,
                "password": server.password,
                "inbox": "/in",
                "outbox": "/out",
            },
        )
        store = open_store(settings.store_url)
        start = time.perf_counter()
        outcome = poll_once(store, settings, settings.partners[PARTNER], now=now)
        seconds = _timed_since(start)
        store.close()
        downloads = server.stats.commands["RETR"]

        start = time.perf_counter()
        client = ftplib.FTP()  # noqa: S321  (the floor: plain FTP on the loopback test server)
        client.connect(server.host, server.port, timeout=60)
        client.login(server.username, server.password)
        listed = sum(1 for _ in client.mlsd("/in"))
        client.quit()
        floor = _timed_since(start)
    return {
        "seconds": seconds,
        "floor_seconds": floor,
        "downloads": downloads,
        "imports": len(outcome.imports),
        "listed": listed,
    }
