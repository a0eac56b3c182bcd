"""``ftpbridge export`` by hand: looking never consumes (--dry-run), the output says what
marking means in the partner's mode, --out paths are checked, a second export of the day
keeps the first file, and a legacy encoding's lost characters are named."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from ftpbridge.cli import main
from ftpbridge.files.exporting import export_partner
from ftpbridge.files.layouts import load_layout
from ftpbridge.store import open_store
from ftpbridge.store.schema import files, items

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
ACME_ITEMS = 13  # examples/orders.jsonl: every item but ac's AC-* posters and cancelled 1018


def _rows(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle))


def _statuses(store_url: str) -> dict[str, str]:
    store = open_store(store_url)
    try:
        with store.connect() as connection:
            return dict(connection.execute(select(items.c.id, items.c.status)).all())
    finally:
        store.close()


def _exports(store_url: str) -> int:
    store = open_store(store_url)
    try:
        with store.connect() as connection:
            return len(connection.execute(select(files.c.id)).all())
    finally:
        store.close()


@pytest.fixture
def loaded(run_cli, settings) -> str:
    """The example orders loaded through the command line; the store's URL."""
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    return settings.store_url


def test_dry_run_writes_the_file_and_marks_nothing(run_cli, loaded: str, tmp_path: Path) -> None:
    """--dry-run: the same file, every item still pending, no ledger row; it says so."""
    out = tmp_path / "look"
    out.mkdir()
    result = run_cli("export", "--partner", "acme", "--dry-run", "--out", f"{out}/")
    assert result.exit_code == 0, result.stderr
    [written] = out.glob("*.csv")
    assert len(_rows(written)) == ACME_ITEMS
    assert f"Wrote {ACME_ITEMS} items for acme to {written}" in result.stdout
    assert "Dry run: nothing was marked" in result.stdout
    assert set(_statuses(loaded).values()) == {"pending", "cancelled"}
    assert _exports(loaded) == 0
    to_stdout = run_cli("export", "--partner", "acme", "--dry-run", "--out", "-")
    assert len(to_stdout.stdout.splitlines()) == ACME_ITEMS + 1
    assert "Dry run: nothing was marked" in to_stdout.stderr
    assert set(_statuses(loaded).values()) == {"pending", "cancelled"}
    refused = run_cli("export", "--partner", "acme", "--dry-run", "--upload")
    assert refused.exit_code == 2 and "cannot upload" in refused.stderr


def test_an_export_that_marks_says_what_that_means_in_the_partner_mode(
    run_cli, loaded: str, tmp_path: Path, config_file: Path
) -> None:
    """all_unshipped: they come again until shipped; new_only: this file is the only one."""
    again = run_cli("export", "--partner", "acme", "--out", str(tmp_path / "a.csv"))
    assert f"Marked {ACME_ITEMS} items acknowledged" in again.stdout
    assert "all_unshipped: they stay in every export until they ship" in again.stdout
    config_file.write_text(
        config_file.read_text(encoding="utf-8").replace(
            "[partners.ac]\n", '[partners.ac]\nexport_mode = "new_only"\n'
        ),
        encoding="utf-8",
    )
    new_only = run_cli("export", "--partner", "ac", "--out", "-")
    assert "Marked 4 items acknowledged" in new_only.stderr
    assert "new_only: they will not be exported again" in new_only.stderr
    assert "--dry-run" in new_only.stderr
    none_left = run_cli("export", "--partner", "ac", "--out", str(tmp_path / "b.csv"))
    assert "No item was waiting: nothing was marked." in none_left.stdout
    assert "Exported 0 items" in none_left.stdout


class _Sink(io.RawIOBase):
    """A real standard output (bytes go to /dev/null) that keeps the size of the largest
    single write it was given and how many bytes came in all."""

    def __init__(self) -> None:
        self.largest = 0
        self.total = 0
        self._null = open(os.devnull, "wb")

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = len(memoryview(data).cast("B"))
        self.largest, self.total = max(self.largest, size), self.total + size
        return self._null.write(data)

    def close(self) -> None:
        self._null.close()
        super().close()


def test_export_to_standard_output_is_streamed(
    run_cli, config_file: Path, tmp_path: Path, monkeypatch
) -> None:
    """--out -: the file goes to standard output in pieces (at most 256 KiB per write),
    never read into memory whole (before: one write of the whole file)."""
    orders = tmp_path / "orders.jsonl"
    with orders.open("w", encoding="utf-8") as handle:
        for number in range(1, 1201):
            address = {"firstname": "F" * 300, "lastname": "L" * 300, "address1": "A" * 300}
            address |= {"city": "London", "country": "GB", "postal_code": "SW1A 1AA"}
            order = {"id": number, "created_at": "2026-11-11T09:15:00Z", "fan": "f@example.com"}
            order |= {"shipping_address": address}
            item = {"id": 100_000 + number, "sku_id": 1, "product_name": "P" * 500}
            order["items"] = [item | {"factory_sku": "S1", "quantity": 1, "status": "pending"}]
            handle.write(json.dumps(order) + "\n")
    assert run_cli("orders", "load", str(orders)).exit_code == 0
    sink = _Sink()
    stdout = io.TextIOWrapper(sink, encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", stdout)
    argv = ["--config", str(config_file), "export", "--partner", "acme", "--out", "-"]
    try:
        main.main(argv, standalone_mode=False)
        stdout.flush()
    finally:
        monkeypatch.undo()
        stdout.close()
    assert sink.total > 1024 * 1024  # the file: 1,200 items of about 1.5 kB
    assert 0 < sink.largest <= 256 * 1024


def test_upload_says_how_many_items_the_upload_marked(
    run_cli, loaded: str, config_file: Path, tmp_path: Path, monkeypatch
) -> None:
    """export --upload: "Marked N items" is what mark_sent marked once the file was on
    the server, not the file's row count: an item shipped while the file went up keeps
    its status and is not counted (before: "Marked 13 items" whatever was marked)."""
    from ftpbridge.exchange import export as export_cycle

    share = tmp_path / "share"
    (share / "out").mkdir(parents=True)
    config_file.write_text(
        config_file.read_text(encoding="utf-8").replace(
            "[partners.acme]\n",
            f'[partners.acme]\ntransport = "local"\npath = "{share}"\noutbox = "/out"\n',
        ),
        encoding="utf-8",
    )
    shipped_meanwhile = "1001"

    def ship_during_upload(step: str) -> None:
        # The crash point after the upload, before the marking: the fulfiller's update
        # (or a person) ships one of the file's items right then.
        if step == "rename":
            store = open_store(loaded)
            try:
                with store.begin() as connection:
                    connection.execute(
                        update(items)
                        .where(items.c.id == shipped_meanwhile)
                        .values(status="shipped", shipped_date=dt.date(2026, 11, 22))
                    )
            finally:
                store.close()

    monkeypatch.setattr(export_cycle, "crashpoint", ship_during_upload)
    result = run_cli("export", "--partner", "acme", "--upload")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"exported {ACME_ITEMS} items and uploaded" in result.stdout
    assert f"{ACME_ITEMS - 1:,} of them marked sent" in result.stdout
    assert (
        f"Marked {ACME_ITEMS - 1} items acknowledged (exported) of the {ACME_ITEMS} in the"
        " file (1 item shipped or cancelled meanwhile kept that status)" in result.stdout
    )
    statuses = _statuses(loaded)
    assert statuses[shipped_meanwhile] == "shipped"
    assert sum(status == "acknowledged" for status in statuses.values()) == ACME_ITEMS - 1


def test_out_paths_name_existing_folders(run_cli, loaded: str, tmp_path: Path) -> None:
    """A path ending in / is a folder that must exist; a file's folder must exist too.
    Nothing is created and nothing is marked when it does not."""
    missing = tmp_path / "nonexistent" / "dir"
    for out in (f"{missing}/", str(missing / "orders.csv")):
        result = run_cli("export", "--partner", "acme", "--out", out)
        assert result.exit_code == 2, result.stdout
        assert "does not exist" in result.stderr
        assert result.stderr.count("Try: ") == 1
        assert not (tmp_path / "nonexistent").exists()
    assert set(_statuses(loaded).values()) == {"pending", "cancelled"}


def test_a_second_export_of_the_day_keeps_the_first_file(
    run_cli, loaded: str, tmp_path: Path
) -> None:
    """The same name again: the first file stays whole, the second gets -2, and it says so."""
    first = run_cli("export", "--partner", "acme", "--out", f"{tmp_path}/")
    [path] = tmp_path.glob("orders_*.csv")
    second = run_cli("export", "--partner", "acme", "--out", f"{tmp_path}/")
    assert first.exit_code == second.exit_code == 0
    kept = path.with_name(path.stem + "-2.csv")
    assert f"An earlier file {path.name} was there: it is kept" in second.stdout
    assert f"this export is {kept.name}" in second.stdout
    assert len(_rows(path)) == len(_rows(kept)) == ACME_ITEMS


def test_export_into_a_folder_holding_the_name_keeps_both(store, settings, tmp_path) -> None:
    """Unit level (the state dir's outgoing/ folder): the ledger keeps the partner's name,
    the local path is unique, and a failed export leaves no reserved name behind."""
    from ftpbridge.files.intake import load_orders

    load_orders(store, EXAMPLES, list(settings.partners.values()))
    acme = settings.partners["acme"]
    first = export_partner(store, acme, load_layout("default"), tmp_path, name="day.csv")
    second = export_partner(store, acme, load_layout("default"), tmp_path, name="day.csv")
    assert (first.path.name, second.path.name) == ("day.csv", "day-2.csv")
    assert (second.name, second.kept) == ("day.csv", first.path)
    assert len(_rows(first.path)) == ACME_ITEMS
    with store.connect() as connection:
        paths = connection.execute(select(files.c.name, files.c.local_path)).all()
    assert set(paths) == {("day.csv", str(first.path)), ("day.csv", str(second.path))}


def test_characters_a_legacy_encoding_cannot_write_are_named(
    run_cli, tmp_path: Path, config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """cp1252 has no Ł: the cell is written with '?', and the output and the log name the
    order, item and field."""
    config_file.write_text(
        config_file.read_text(encoding="utf-8").replace(
            "[partners.acme]\n", '[partners.acme]\nencoding = "cp1252"\n'
        ),
        encoding="utf-8",
    )
    order = {
        "id": 77,
        "created_at": "2026-11-20T14:03:00Z",
        "shipping_address": {"firstname": "Łukasz", "lastname": "Nowak", "city": "Łódź"},
        "items": [{"id": 7701, "product_name": "Café poster", "factory_sku": "X"}],
    }
    orders = tmp_path / "one.jsonl"
    orders.write_text(json.dumps(order) + "\n", encoding="utf-8")
    assert run_cli("orders", "load", str(orders)).exit_code == 0
    result = run_cli("export", "--partner", "acme", "--out", str(tmp_path / "x.csv"))
    assert result.exit_code == 0
    assert "Warning: 1 item had characters cp1252 cannot write, written as '?' in 2 cells" in (
        result.stderr
    )
    assert "order 77, item 7701: ship_name 'Łukasz Nowak' written as '?ukasz Nowak'" in (
        result.stderr
    )
    assert "ship_city 'Łódź' written as '?ódz'" not in result.stderr  # cp1252 has ó, not ź
    assert "ship_city 'Łódź' written as '?ód?'" in result.stderr
    [row] = _rows(tmp_path / "x.csv", encoding="cp1252")
    assert (row["ship_name"], row["product_name"]) == ("?ukasz Nowak", "Café poster")
    [record] = [record for record in caplog.records if "cannot write" in str(record.msg)]
    assert record.levelname == "WARNING"
    assert "order 77 item 7701 ship_name" in str(record.msg)
