"""A workbook through import_file: the same path as a CSV after reading (validation, the
ledger by the file's bytes, one transaction, a CSV report named after the file, exactly
once), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from ftpbridge.files.layouts import load_layout
from tests.unit.test_importing import item_state, ledger_rows, read_report, run_import, shipped
from tests.workbook_files import EXPECTED_ROWS, EXPECTED_SHIPPED, write_filled_in


def expected_state(before: dict[str, tuple[object, ...]]) -> dict[str, tuple[object, ...]]:
    after = dict(before)
    for item, (date, carrier, tracking) in EXPECTED_SHIPPED.items():
        after[item] = shipped(date, carrier, tracking)
    return after


def test_a_filled_in_workbook_imports_to_exactly_the_expected_state(
    loaded_store, settings, tmp_path: Path
) -> None:
    """Number, date, TRUE/FALSE and formula cells, a damaged tracking number, a hidden row
    and a second sheet: the store ends exactly as the rows say; the report is CSV, named
    after the file, says which sheet was read and decides every row."""
    before = item_state(loaded_store)
    path = write_filled_in(tmp_path / "orders_updated.xlsx")
    result = run_import(loaded_store, settings, path)
    assert result.status == "applied", result.message
    assert (result.rows, result.applied, result.unchanged, result.rejected) == (6, 4, 1, 1)
    assert item_state(loaded_store) == expected_state(before)
    assert result.report_path == tmp_path / "orders_updated.xlsx.report.csv"
    note, *rows = read_report(result)
    assert (note["row"], note["outcome"]) == ("", "note")
    assert "sheet 'Orders'" in note["reason"]
    assert [(int(r["row"]), r["item_id"], r["outcome"]) for r in rows] == [
        (row, item, outcome) for row, item, outcome, _ in EXPECTED_ROWS
    ]
    for line, (_, _, _, reason) in zip(rows, EXPECTED_ROWS, strict=True):
        assert reason in line["reason"], line
    assert "9.40011E+21" in rows[2]["reason"] and "format the column as text" in rows[2]["reason"]


def test_the_ledger_keys_a_workbook_by_its_bytes_and_takes_it_once(
    loaded_store, settings, tmp_path: Path
) -> None:
    """The ledger holds the workbook's own sha256; the same workbook again (under another
    name) changes nothing."""
    path = write_filled_in(tmp_path / "orders_updated.xlsx")
    first = run_import(loaded_store, settings, path)
    state = item_state(loaded_store)
    [entry] = ledger_rows(loaded_store)
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["size"] == path.stat().st_size
    again = tmp_path / "renamed.ods"
    again.write_bytes(path.read_bytes())
    second = run_import(
        loaded_store, settings, again, now=dt.datetime(2026, 11, 23, 13, tzinfo=dt.UTC)
    )
    assert (first.status, second.status) == ("applied", "already_processed")
    assert item_state(loaded_store) == state


def test_a_workbook_rejected_as_a_whole_changes_nothing(
    loaded_store, settings, tmp_path: Path
) -> None:
    """A workbook cut short: rejected with a one-line report, recorded, nothing applied."""
    before = item_state(loaded_store)
    whole = write_filled_in(tmp_path / "whole.xlsx").read_bytes()
    path = tmp_path / "cut_updated.xlsx"
    path.write_bytes(whole[:-100])
    result = run_import(loaded_store, settings, path)
    assert (result.status, result.exit_code) == ("rejected_file", 2)
    assert "cut_updated.xlsx looks like a workbook" in result.message
    [line] = read_report(result)
    assert line["outcome"] == "rejected"
    assert item_state(loaded_store) == before
    assert [entry["state"] for entry in ledger_rows(loaded_store)] == ["rejected"]


def test_a_workbook_is_read_whatever_its_layout_calls_the_columns(
    loaded_store, settings, tmp_path: Path
) -> None:
    """The header row is matched by the partner's layout like a CSV header (Topspin-style
    names here), and the chunks are those of the CSV reader (a chunk of 2 rows)."""
    path = write_filled_in(tmp_path / "orders_updated.xlsx")
    assert load_layout("default").accepted_headers()["tracking number"] == "tracking_number"
    result = run_import(loaded_store, settings, path, chunk_rows=2)
    assert (result.applied, result.unchanged, result.rejected) == (4, 1, 1)
