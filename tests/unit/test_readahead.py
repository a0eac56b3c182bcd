"""The read-ahead thread of an import: order, errors, stopping early, and the store cases
where it must not be used."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.files.layouts import load_layout
from ftpbridge.readahead import read_ahead
from ftpbridge.settings import build_settings
from ftpbridge.store import open_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
UPS = "1Z5R89390357567127"
NOW = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)


def test_items_arrive_in_order_computed_in_another_thread() -> None:
    threads: set[str] = set()

    def produce() -> Iterator[int]:
        for number in range(50):
            threads.add(threading.current_thread().name)
            yield number

    assert list(read_ahead(produce)) == list(range(50))
    assert threads == {"ftpbridge-read-ahead"}


def test_an_error_of_the_producer_reaches_the_consumer_after_the_items_before_it() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("row 7 is malformed")

    seen: list[int] = []
    with pytest.raises(ValueError, match="row 7"):
        for item in read_ahead(produce):
            seen.append(item)
    assert seen == [1, 2]


def test_a_consumer_that_stops_early_stops_and_closes_the_producer() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def produce() -> Iterator[int]:
        try:
            for number in range(1_000_000):
                produced.append(number)
                yield number
        finally:
            closed.set()  # a connection opened here is closed in the producer's thread

    items = read_ahead(produce)
    assert [next(items), next(items)] == [0, 1]
    items.close()
    assert closed.is_set()  # before close() returned: the thread was joined
    assert len(produced) <= 4  # it ran at most the queue's depth ahead
    assert not any(thread.name == "ftpbridge-read-ahead" for thread in threading.enumerate())


def _import_two_rows(store, settings, folder: Path) -> tuple[str, int, int]:
    load_orders(store, EXAMPLES, list(settings.partners.values()))
    path = folder / "orders_updated_1.csv"
    path.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\n"
        f"1,1001,TRUE,2026-11-22,UPS,{UPS}\n"
        f"1,1002,TRUE,2026-11-22,UPS,{UPS}\n",
        encoding="utf-8",
    )
    result = import_file(
        store, settings.partners["acme"], load_layout("default"), path, now=NOW, chunk_rows=1
    )
    return result.status, result.applied, result.rejected


def test_sqlite_outside_wal_mode_is_read_on_the_writing_connection(tmp_path: Path) -> None:
    """Where WAL mode is not available (a filesystem without shared memory), a reader
    would hold the lock the writer needs to commit: the import reads on its own connection,
    one chunk after the other, and completes."""
    settings = build_settings(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'journal.db'}"},
            "partners": {"acme": {"default": True}},
        }
    )
    store = open_store(settings.store_url, migrate=False)
    event.listen(  # after ftpbridge's own pragmas: leave WAL mode on every connection
        store.engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA journal_mode=DELETE")
    )
    try:
        store.upgrade()
        with store.begin() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
            assert not store.reads_beside(connection)
        assert _import_two_rows(store, settings, tmp_path) == ("applied", 2, 0)
    finally:
        store.close()


def test_a_file_store_in_wal_mode_is_read_beside_the_writer(tmp_path: Path) -> None:
    settings = build_settings(
        {"store": {"url": f"sqlite:///{tmp_path / 'wal.db'}"}, "partners": {"acme": {}}}
    )
    store = open_store(settings.store_url)
    try:
        with store.begin() as connection:
            assert store.reads_beside(connection)
    finally:
        store.close()
