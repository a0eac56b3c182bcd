"""[daemon] keep_local_days: old local copies in the state folder go, never one a ledger
row not yet final names (issue 11 item 6)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from ftpbridge.files.retention import prune_local_files
from ftpbridge.store import ledger

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def _file(path: Path, days_old: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 100)
    stamp = (NOW - dt.timedelta(days=days_old)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _export_row(store, path: Path, state: str) -> None:
    with store.begin() as connection:
        ledger.record(
            connection,
            NOW,
            partner="acme",
            direction="export",
            name=path.name,
            sha256="0" * 64,
            size=100,
            state=state,
            local_path=str(path),
        )


def test_old_files_go_unless_their_ledger_row_is_not_final(store, tmp_path: Path) -> None:
    """archive/ and outgoing/ older than keep_local_days are removed; a newer file, an
    export still 'written' (not uploaded) and a temporary file in progress stay."""
    state = tmp_path / "state"
    archived = _file(state / "archive" / "acme" / "20260101T000000Z_u.csv", 100)
    report = _file(state / "archive" / "acme" / "20260101T000000Z_u.csv.report.csv", 100)
    uploaded = _file(state / "outgoing" / "acme" / "orders_2026-08-01.csv", 120)
    waiting = _file(state / "outgoing" / "acme" / "orders_2026-08-02.csv", 119)
    recent = _file(state / "archive" / "acme" / "20261130T000000Z_u.csv", 1)
    partial = _file(state / "outgoing" / "acme" / ".orders.csv.abc.part", 200)
    staging = _file(state / "staging" / "acme" / "u.csv", 200)
    _export_row(store, uploaded, "uploaded")
    _export_row(store, waiting, "written")
    pruned = prune_local_files(store, state, 90, now=NOW)
    assert (pruned.removed, pruned.bytes, pruned.kept_unfinished) == (3, 300, 1)
    assert not archived.exists() and not report.exists() and not uploaded.exists()
    assert waiting.exists() and recent.exists() and partial.exists() and staging.exists()


def test_zero_keeps_everything_and_nothing_there_is_fine(store, tmp_path: Path) -> None:
    """keep_local_days = 0 removes nothing; a state folder without archive/ is no error."""
    state = tmp_path / "state"
    old = _file(state / "archive" / "acme" / "a.csv", 10_000)
    assert prune_local_files(store, state, 0, now=NOW).removed == 0
    assert old.exists()
    assert prune_local_files(store, tmp_path / "empty", 90, now=NOW).removed == 0
