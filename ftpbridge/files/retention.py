"""How long files are kept in the state folder: ``[daemon] keep_local_days``.

The local archive of every file taken (``archive/<partner>/``, with its report beside it)
and the exports made for upload (``outgoing/<partner>/``) would otherwise fill the disk
over months unattended. A file older than ``keep_local_days`` (by its modification time)
is removed, never one that a ledger row not yet final names as its local copy (an export
written but not uploaded, an import still applying): such a file may still be needed, and
it stays until its row is final. The store's ledger keeps every file's name, sha256, size
and outcome for good; only the local copies go.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy import select

from ftpbridge.store import Store
from ftpbridge.store.schema import files

logger = structlog.get_logger()

PRUNED_FOLDERS = ("archive", "outgoing")
FINAL_STATES = frozenset(
    {
        "applied",  # import: processed (some rows may have been rejected)
        "rejected",  # import: refused as a whole
        "uploaded",  # export: on the partner's server
        "failed",  # export: the upload failed; the day was given back (a later one retries)
        "abandoned",  # export: its run stopped before the upload; the day was given back
        "not_uploaded",  # export: another replica had the day
        "served",  # an API read's ledger row
    }
)
"""Ledger states after which a file's local copy is no longer needed by ftpbridge. Any
other state (``written``, ``applying``, a state added later) keeps the file."""


@dataclass(frozen=True)
class Pruned:
    """What a pruning did: files removed, their bytes, and old files kept because a ledger
    row not yet final names them."""

    removed: int
    bytes: int
    kept_unfinished: int


def prune_local_files(store: Store, state_dir: Path, keep_days: int, *, now: dt.datetime) -> Pruned:
    """Remove the files of ``archive/`` and ``outgoing/`` under ``state_dir`` older than
    ``keep_days`` days, except those a ledger row not yet final names (see the module doc).
    ``keep_days`` 0 keeps everything. Raises StoreError when the ledger cannot be read
    (then nothing is removed)."""
    if keep_days <= 0:
        return Pruned(0, 0, 0)
    cutoff = (now - dt.timedelta(days=keep_days)).timestamp()
    old = [path for path in _files(state_dir) if _mtime(path) < cutoff]
    if not old:
        return Pruned(0, 0, 0)
    with store.connect() as connection:
        unfinished = {
            os.path.realpath(row[0])
            for row in connection.execute(
                select(files.c.local_path).where(
                    files.c.local_path.is_not(None), files.c.state.not_in(FINAL_STATES)
                )
            )
        }
    removed = size = kept = 0
    for path in old:
        if os.path.realpath(path) in unfinished:
            kept += 1
            continue
        try:
            length = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
        size += length
    if removed or kept:
        logger.info(
            "old local files removed",
            removed=removed,
            megabytes=round(size / 1e6, 1),
            kept_unfinished=kept,
            keep_local_days=keep_days,
        )
    return Pruned(removed, size, kept)


def _files(state_dir: Path) -> list[Path]:
    """The regular files of archive/PARTNER/ and outgoing/PARTNER/ (a temporary file in
    progress, ``.NAME.*.part``, is its writer's, never ours to remove)."""
    found = []
    for folder in PRUNED_FOLDERS:
        top = state_dir / folder
        if not top.is_dir():
            continue
        for partner in os.scandir(top):
            if not partner.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(partner.path):
                if entry.is_file(follow_symlinks=False) and not (
                    entry.name.startswith(".") and entry.name.endswith(".part")
                ):
                    found.append(Path(entry.path))
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")  # gone meanwhile: nothing to do
