"""``skus load``'s file (files/catalogue.py) on SQLite and PostgreSQL: streamed in batches
inside one transaction, every bad line found but only the first 50 kept, a SKU given twice
found across batches, and nothing loaded when any line is wrong."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ftpbridge.errors import CatalogueFileError
from ftpbridge.files.catalogue import PROBLEMS_KEPT, load_catalogue
from ftpbridge.settings import Settings
from ftpbridge.store import Store
from ftpbridge.store.schema import skus, stock_changes

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
LIMIT = 200_000_000


def count(store: Store, table=skus) -> int:
    with store.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def csv_catalogue(path: Path, numbers: range, extra: str = "") -> Path:
    lines = ["id,factory_sku,product_name,in_stock_quantity"]
    lines += [f"S{number},W{number},Shirt {number},{number % 50}" for number in numbers]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def load(store: Store, settings: Settings, path: Path, **kwargs) -> object:
    partners = list(settings.partners.values())
    return load_catalogue(store, path, partners, max_file_bytes=LIMIT, now=NOW, **kwargs)


def test_a_catalogue_loads_in_batches_with_its_totals(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Batches of 7 SKUs: every SKU is loaded, the totals add up over the batches, and the
    stock each sets is audited."""
    path = csv_catalogue(tmp_path / "skus.csv", range(1, 31))
    loaded = load(store, settings, path, batch_rows=7)
    assert loaded.skus == 30
    assert (loaded.summary.new, loaded.summary.updated, loaded.summary.unchanged) == (30, 0, 0)
    assert loaded.summary.stock_changed == 30  # S1..S30 hold 1..30 in stock
    assert count(store) == 30 and count(store, stock_changes) == 30
    again = load(store, settings, path, batch_rows=7)
    assert (again.summary.new, again.summary.unchanged) == (0, 30)


def test_a_sku_given_twice_in_another_batch_loads_nothing(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A SKU on row 3 and again on row 25 (batches of 5: the first was written already):
    named with both rows, and the transaction keeps nothing; in JSON Lines, by line."""
    path = csv_catalogue(tmp_path / "skus.csv", range(1, 30), extra="S2,W2b,Again,1\n")
    with pytest.raises(CatalogueFileError) as raised:
        load(store, settings, path, batch_rows=5)
    assert raised.value.problems == ["row 31: SKU S2 already appears on row 3"]
    assert "1 invalid line; nothing was loaded" in raised.value.message
    assert count(store) == 0 and count(store, stock_changes) == 0
    lines = [{"id": f"J{number}"} for number in range(12)] + [{"id": "J4"}]
    jsonl = tmp_path / "skus.jsonl"
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(CatalogueFileError) as raised:
        load(store, settings, jsonl, batch_rows=5)
    assert raised.value.problems == ["line 13: SKU J4 already appears on line 5"]
    assert count(store) == 0


def test_problems_are_capped_and_counted(store: Store, settings: Settings, tmp_path: Path) -> None:
    """3,000 bad rows and a duplicate: the first 50 problems in file order are kept and
    shown, the message counts all 3,001 and says how many more there are."""
    bad = "".join(f"B{number},,,-{number}\n" for number in range(3_000))
    path = csv_catalogue(tmp_path / "skus.csv", range(1, 5), extra=bad + "S1,W,X,1\n")
    with pytest.raises(CatalogueFileError) as raised:
        load(store, settings, path, batch_rows=100)
    error = raised.value
    assert len(error.problems) == PROBLEMS_KEPT == 50
    assert error.problems[0].startswith("row 6: in_stock_quantity must be")
    assert error.problems[-1].startswith("row 55: ")
    assert "3,001 invalid lines; nothing was loaded" in error.message
    assert error.message.endswith("... and 2,951 more")
    assert count(store) == 0


@pytest.mark.parametrize("store_backend", ["sqlite"])
def test_memory_does_not_grow_with_the_file(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Python's allocations while loading a catalogue five times the size stay within
    twice those of the smaller one (the whole file held as dicts grew five times)."""
    peaks = []
    for size in (4_000, 20_000):
        path = csv_catalogue(tmp_path / f"skus{size}.csv", range(size * 10, size * 11))
        tracemalloc.start()
        try:
            load(store, settings, path, batch_rows=500)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] < 2 * peaks[0], peaks
