"""The inventory rows of ``python -m bench``: a warehouse's snapshot of N lines (one per
SKU of the partner, every quantity changed) through ``import_inventory`` on SQLite, next
to its floor: ``read_csv(dtype=str)`` of the same file plus one ``executemany`` UPDATE by
the warehouse SKU (the index the import matches by), each on its own copy of the store.

Peak RSS is measured at N/4, N/2 and N lines (as many SKUs as lines each time): it should
stay flat in the file's size, the file's rows being staged and decided in the database.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

PARTNER = "acme"


def build(database: Path, lines: int, seed: int = 14) -> dict[str, Any]:
    """A migrated store holding ``lines`` SKUs of the partner, in stock, and nothing else."""
    from ftpbridge.store import open_store

    started = time.perf_counter()
    open_store(f"sqlite:///{database}").close()
    rng = random.Random(seed)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    connection = sqlite3.connect(database)
    with connection:  # one transaction, committed
        connection.executemany(
            "INSERT INTO skus (id, product_name, product_id, attributes, factory_sku, upc,"
            " weight_unit, available, in_stock_quantity, reserve_quantity,"
            " max_backorder_quantity, partner, created_at, updated_at)"
            " VALUES (?, ?, '', '', ?, '', '', 1, ?, 0, 0, ?, ?, ?)",
            (
                (
                    str(100_000 + number),
                    f"Product {number}",
                    f"W-{number:07d}",
                    rng.randint(1, 500),
                    PARTNER,
                    stamp,
                    stamp,
                )
                for number in range(lines)
            ),
        )
    connection.close()
    return {"seconds": time.perf_counter() - started}


def snapshot_file(path: Path, lines: int, seed: int = 15) -> dict[str, Any]:
    """The warehouse's snapshot: every SKU once (in a shuffled order), a new quantity."""
    rng = random.Random(seed)
    order = list(range(lines))
    rng.shuffle(order)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("Item Number,Qty On Hand\r\n")
        handle.writelines(f"W-{number:07d},{rng.randint(501, 900)}\r\n" for number in order)
    return {"bytes": path.stat().st_size}


def ours(database: Path, path: Path, report: Path) -> dict[str, Any]:
    from ftpbridge.files.inventory import import_inventory
    from ftpbridge.settings import build_settings
    from ftpbridge.store import open_store

    partner = build_settings({"partners": {PARTNER: {"default": True}}}).partners[PARTNER]
    store = open_store(f"sqlite:///{database}")
    try:
        started = time.perf_counter()
        result = import_inventory(store, partner, path, report_path=report)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    return {
        "seconds": seconds,
        "status": result.status,
        "rows": result.rows,
        "applied": result.applied,
        "rejected": result.rejected,
        "message": result.message,
    }


def floor(database: Path, path: Path) -> dict[str, Any]:
    """What any program must do at least: read the file, one UPDATE per row by key."""
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = list(
        zip(
            frame.iloc[:, 1].astype("int64").tolist(),
            frame.iloc[:, 0].tolist(),
            [PARTNER] * len(frame),
            strict=True,
        )
    )
    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executemany(
            "UPDATE skus SET in_stock_quantity = ? WHERE factory_sku = ? AND partner = ?", rows
        )
        connection.commit()
    finally:
        connection.close()
    return {"seconds": time.perf_counter() - started, "rows": len(rows)}
