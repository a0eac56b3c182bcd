"""The inventory poll (exchange/inventory.py) through pyftpdlib and OpenSSH's sshd, on both
stores: settled files only, applied once, archived with the report next to them, a held
snapshot to errors/ with an alert, and the two polls (updated and inventory files) each
taking only their own files and counting their own settling."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from ftpbridge.exchange.inventory import poll_inventory_once
from ftpbridge.exchange.poll import poll_once
from ftpbridge.exchange.status import partner_status, render
from ftpbridge.files.intake import load_orders
from ftpbridge.settings import Settings
from ftpbridge.store import Store, open_store
from ftpbridge.store.schema import files, skus
from tests.integration.test_exchange import make_settings
from tests.servers import TransportCase

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
SNAPSHOT = "sku,quantity\r\n007,24\r\n55665,3\r\n55666,8\r\nAC-100,5\r\n"
TRANSPORTS = pytest.mark.parametrize("transport_case", ["ftp", "sftp"], indirect=True)


@pytest.fixture
def warehouse(
    tmp_path: Path, transport_case: TransportCase, store_url: str
) -> tuple[Settings, Store, TransportCase]:
    """acme (every SKU, a snapshot partner) on the transport under test, the sample
    orders (so their four SKUs) in the store, the inbox on the server."""
    for folder in ("in", "out"):
        (transport_case.disk / folder).mkdir()
        transport_case.give(transport_case.disk / folder)
    settings = make_settings(tmp_path, transport_case, store_url=store_url)
    store = open_store(settings.store_url)
    load_orders(store, EXAMPLES, list(settings.partners.values()))
    return settings, store, transport_case


def drop(case: TransportCase, name: str, text: str) -> Path:
    """The warehouse writes a file into the inbox, complete under its name."""
    target = case.disk / "in" / name
    temporary = target.with_name("." + name + ".writing")
    temporary.write_text(text, encoding="utf-8")
    case.give(temporary)
    temporary.rename(target)
    return target


def in_stock(store: Store) -> dict[str, int]:
    with store.connect() as connection:
        rows = connection.execute(select(skus.c.id, skus.c.in_stock_quantity)).all()
    return {row[0]: row[1] for row in rows}


def folder(case: TransportCase, *parts: str) -> list[str]:
    path = case.disk.joinpath("in", *parts)
    return sorted(entry.name for entry in path.iterdir()) if path.exists() else []


@TRANSPORTS
def test_an_inventory_file_is_applied_once_and_archived_with_its_report(
    warehouse: Any, tmp_path: Path
) -> None:
    """Settled after settle_seconds (polls at 0 s and 0.5 s leave it; the clock is passed
    in), applied, moved to archive/ with NAME.report.csv; the same bytes again under
    another name: already processed (nothing changes) and archived too."""
    settings, store, case = warehouse
    settings = make_settings(tmp_path, case, store_url=settings.store_url, settle_seconds=1)
    acme = settings.partners["acme"]
    drop(case, "acme_inventory_20261201.csv", SNAPSHOT)
    start = dt.datetime.now(dt.UTC)
    for seconds in (0, 0.5):
        early = poll_inventory_once(
            store, settings, acme, now=start + dt.timedelta(seconds=seconds)
        )
        assert early.imports == [] and "still settling" in early.summary
    taken = poll_inventory_once(store, settings, acme, now=start + dt.timedelta(seconds=1))
    assert [result.status for result in taken.imports] == ["applied"]
    assert taken.summary == (
        "acme: acme_inventory_20261201.csv (snapshot): 4 rows: 4 applied, 0 unchanged, 0 rejected"
    )
    assert in_stock(store) == {"25": 24, "26": 3, "27": 8, "28": 5}
    assert folder(case) == ["archive"]
    assert folder(case, "archive") == [
        "acme_inventory_20261201.csv",
        "acme_inventory_20261201.csv.report.csv",
    ]
    with (case.disk / "in" / "archive" / "acme_inventory_20261201.csv.report.csv").open(
        encoding="utf-8", newline=""
    ) as handle:
        assert [row["outcome"] for row in csv.DictReader(handle)] == ["applied"] * 4
    drop(case, "acme_inventory_again.csv", SNAPSHOT)
    again = poll_inventory_once(store, settings, acme, now=start + dt.timedelta(seconds=5))
    again = poll_inventory_once(store, settings, acme, now=start + dt.timedelta(seconds=7))
    assert [result.status for result in again.imports] == ["already_processed"]
    assert "acme_inventory_again.csv" in folder(case, "archive")
    assert in_stock(store) == {"25": 24, "26": 3, "27": 8, "28": 5}
    with store.connect() as connection:
        applied = connection.execute(
            select(files.c.name).where(files.c.direction == "inventory", files.c.state == "applied")
        ).all()
    assert [row[0] for row in applied] == ["acme_inventory_20261201.csv"]


@TRANSPORTS
def test_a_truncated_snapshot_goes_to_errors_with_an_alert(warehouse: Any) -> None:
    """A snapshot that would zero most of the stock is held: nothing changes, the file and
    its report go to errors/, an alert is logged at error level, and the poll's exit code
    asks for attention; status shows the file held."""
    settings, store, case = warehouse
    acme = settings.partners["acme"]
    drop(case, "stock_inventory.csv", SNAPSHOT)
    assert poll_inventory_once(store, settings, acme).exit_code == 0
    drop(case, "cut_inventory.csv", "sku,quantity\r\n007,20\r\n")
    with capture_logs() as logs:
        held = poll_inventory_once(store, settings, acme)
    assert [result.status for result in held.imports] == ["held"] and held.exit_code == 1
    assert "held, nothing applied" in held.summary
    assert in_stock(store) == {"25": 24, "26": 3, "27": 8, "28": 5}
    assert folder(case, "errors") == ["cut_inventory.csv", "cut_inventory.csv.report.csv"]
    alerts = [entry for entry in logs if entry["event"] == "alert"]
    assert len(alerts) == 1 and alerts[0]["log_level"] == "error"
    assert "cut_inventory.csv held" in alerts[0]["message"]
    status = next(row for row in partner_status(store, settings) if row["name"] == "acme")
    assert status["last_inventory"]["state"] == "held"
    assert any("last stock:   cut_inventory.csv (HELD" in line for line in render([status]))


@TRANSPORTS
def test_each_poll_takes_its_own_files_and_keeps_its_own_sightings(
    warehouse: Any, tmp_path: Path
) -> None:
    """An inventory file and an updated file side by side: the updated-file poll leaves the
    inventory file (also one named like both) and the inventory poll the updated file;
    polls of one kind do not reset the other's settling (the clock is passed in)."""
    settings, store, case = warehouse
    settings = make_settings(tmp_path, case, store_url=settings.store_url, settle_seconds=1)
    acme = settings.partners["acme"]
    drop(case, "orders_updated_inventory.csv", SNAPSHOT)
    drop(
        case,
        "orders_updated_1.csv",
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\r\n1,1001,FALSE,,,\r\n",
    )
    start = dt.datetime.now(dt.UTC)
    poll_inventory_once(store, settings, acme, now=start)
    poll_once(store, settings, acme, now=start + dt.timedelta(seconds=0.5))
    updated = poll_once(store, settings, acme, now=start + dt.timedelta(seconds=0.7))
    assert updated.imports == []  # its own file seen 0.2 s ago: still settling
    inventory = poll_inventory_once(store, settings, acme, now=start + dt.timedelta(seconds=1))
    assert [result.file_name for result in inventory.imports] == ["orders_updated_inventory.csv"]
    updated = poll_once(store, settings, acme, now=start + dt.timedelta(seconds=1.5))
    assert [result.file_name for result in updated.imports] == ["orders_updated_1.csv"]
    assert folder(case) == ["archive"]


@pytest.mark.parametrize("transport_case", ["local"], indirect=True)
def test_an_inventory_file_that_cannot_be_taken_is_counted_then_given_up(
    warehouse: Any, tmp_path: Path
) -> None:
    """A FIFO named like an inventory file (a download refused while the server works):
    counted on the inventory poll's own sightings and shown in status, the good file
    taken beside it; at alert_after (2) polls it goes to errors/ with an inventory report
    saying why, and its ledger row is an inventory file's, rejected."""
    import os

    settings, store, case = warehouse
    settings = make_settings(tmp_path, case, store_url=settings.store_url, alert_after=2)
    acme = settings.partners["acme"]
    os.mkfifo(case.disk / "in" / "pipe_inventory.csv")
    drop(case, "acme_inventory.csv", SNAPSHOT)
    first = poll_inventory_once(store, settings, acme)
    assert [result.file_name for result in first.imports] == ["acme_inventory.csv"]
    assert "pipe_inventory.csv: could not be taken (1 of 2 tries)" in first.summary
    assert first.exit_code == 1
    status = next(row for row in partner_status(store, settings) if row["name"] == "acme")
    assert [stuck["file"] for stuck in status["stuck_files"]] == ["pipe_inventory.csv"]
    updated = poll_once(store, settings, acme)  # not the updated-file poll's file
    assert "pipe_inventory" not in updated.summary and updated.exit_code == 0
    second = poll_inventory_once(store, settings, acme)
    assert [result.status for result in second.imports] == ["rejected_file"]
    assert folder(case, "errors") == ["pipe_inventory.csv", "pipe_inventory.csv.report.csv"]
    with (case.disk / "in" / "errors" / "pipe_inventory.csv.report.csv").open(
        encoding="utf-8", newline=""
    ) as handle:
        [line] = list(csv.DictReader(handle))
    assert line["outcome"] == "rejected" and "could not be taken in 2 polls" in line["reason"]
    assert "sku" in line  # the inventory report's columns
    with store.connect() as connection:
        given_up = connection.execute(
            select(files.c.direction, files.c.state).where(files.c.name == "pipe_inventory.csv")
        ).all()
    assert [tuple(row) for row in given_up] == [("inventory", "rejected")]
    status = next(row for row in partner_status(store, settings) if row["name"] == "acme")
    assert status["stuck_files"] == []
    assert in_stock(store) == {"25": 24, "26": 3, "27": 8, "28": 5}
