"""One daemon per SQLite store: the run lock beside the database file (PostgreSQL
arbitrates by itself, through its job locks), and the name a replica goes by in locks and
logs."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import make_url

from ftpbridge.errors import FtpbridgeError
from ftpbridge.settings import Settings


def replica_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextlib.contextmanager
def single_instance(settings: Settings) -> Iterator[None]:
    """Refuse a second daemon on the same SQLite store (PostgreSQL arbitrates by itself)."""
    if not settings.store_url.startswith("sqlite"):
        yield
        return
    # Next to the database file when there is one: two configs (or state folders) naming
    # the same SQLite file must still meet on one lock.
    database = make_url(settings.store_url).database
    if database and database != ":memory:":
        lock_path = Path(database).with_name(Path(database).name + ".run-lock")
    else:
        lock_path = settings.state_dir / "ftpbridge-run.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = _locked(lock_path)
    handle.seek(0)
    handle.truncate()
    handle.write(replica_name() + "\n")
    handle.flush()
    try:
        yield
    finally:
        # A clean stop leaves no lock file behind. Removed while still locked: a process
        # that opened it just before finds, once it has the lock, that the path is no
        # longer its file and starts again (_locked).
        with contextlib.suppress(OSError):
            lock_path.unlink()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _locked(lock_path: Path) -> TextIO:
    """Open ``lock_path`` and take its lock without waiting; FtpbridgeError naming the
    holder when another daemon has it. The lock held is on the file the path names now."""
    while True:
        handle = lock_path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise FtpbridgeError(
                f"another ftpbridge run ({holder}) already uses this SQLite store"
                f" ({lock_path}); two daemons on one SQLite file would do the work twice",
                hint="stop the other one, or move the store to PostgreSQL to run several replicas",
            ) from None
        try:
            current = os.stat(lock_path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(handle.fileno())
        if current is not None and (current.st_dev, current.st_ino) == (
            mine.st_dev,
            mine.st_ino,
        ):
            return handle
        handle.close()  # the daemon that held it removed it as it stopped: try again
