"""Job locks: one replica at a time runs a partner's export, one its poll.

PostgreSQL arbitrates with a session-level advisory lock (``pg_try_advisory_lock``) keyed
on (partner, job), held on a connection of its own for the job's duration and released
after. A replica that dies loses its locks with its connection: PostgreSQL ends the
session when the socket closes, and another replica takes the job at its next run.

SQLite has no replicas (a second ``ftpbridge run`` on one file refuses to start), but the
daemon and a command run by hand (``export --upload`` while the daemon uploads) share the
file: the lock is an ``flock`` on a file of its own next to the database
(``<database>.locks/<job>-<partner>-<hash>.lock``: two configs naming one SQLite file
meet on it), taken without waiting, and released by the kernel when its holder ends, however it
ends. A store with no file (``:memory:``) is one process's: a lock per (partner, job) in
that process.

So a lock holder is always alive: a claim (the ledger's ``upload_key``) found not uploaded
by the holder of the export lock was left by a run that is gone, and may be released.
The ledger's unique keys (``import_key``, ``upload_key``) still make a second apply of a
file or a second upload of a day fail safely should a lock ever be lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from ftpbridge.errors import StoreError
from ftpbridge.store.engine import Store

logger = structlog.get_logger()

_NAMESPACE = "ftpbridge.job"


def lock_key(partner: str, job: str) -> int:
    """A stable signed 64-bit key for (partner, job): the same in every process and release
    (Python's ``hash()`` is salted per process, so it cannot be used)."""
    digest = hashlib.sha256(f"{_NAMESPACE}\0{partner}\0{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def job_lock(store: Store, partner: str, job: str) -> Iterator[bool]:
    """Try to take the (partner, job) lock without waiting; yield whether it was taken.

    The caller runs the job only when it gets True. The lock is released when the block
    ends, also when it raises. Raises StoreError when PostgreSQL cannot be reached, or
    the lock file next to an SQLite database cannot be made.
    """
    if store.dialect != "postgresql":
        with _local_lock(store, partner, job) as locked:
            yield locked
        return
    key = lock_key(partner, job)
    try:
        # Autocommit: the session lock outlives statements, and no transaction stays open
        # ("idle in transaction") while the job runs on its other connections.
        connection = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot take the {job} lock of {partner} in {store.url_for_people}: {exc}"
        ) from exc
    locked = False
    try:
        try:
            locked = bool(
                connection.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (key,)).scalar()
            )
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot take the {job} lock of {partner} in {store.url_for_people}: {exc}"
            ) from exc
        yield locked
    finally:
        if locked:
            _unlock(connection, key, partner, job)
        connection.close()


_MEMORY_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}
_MEMORY_GUARD = threading.Lock()


@contextlib.contextmanager
def _local_lock(store: Store, partner: str, job: str) -> Iterator[bool]:
    """SQLite: an flock next to the database file (one per process and thread that asks:
    flock locks belong to an open file, so two threads of one process exclude each other
    too); an in-process lock for a database without a file."""
    database = store.engine.url.database
    if not database or database == ":memory:":
        with _MEMORY_GUARD:
            lock = _MEMORY_LOCKS.setdefault((str(id(store.engine)), partner, job), threading.Lock())
        if not lock.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            lock.release()
        return
    folder = Path(database).with_name(Path(database).name + ".locks")
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", partner)[:64]
    digest = hashlib.sha256(partner.encode()).hexdigest()[:8]
    path = folder / f"{job}-{readable}-{digest}.lock"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        handle = path.open("a")
    except OSError as exc:
        raise StoreError(
            f"cannot take the {job} lock of {partner}: cannot write {path}: {exc.strerror}"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unlock(connection: Connection, key: int, partner: str, job: str) -> None:
    try:
        released = connection.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,)).scalar()
    except SQLAlchemyError as exc:
        released = False
        logger.warning("cannot release a job lock", partner=partner, job=job, error=str(exc))
    if not released:
        # Never hand a connection that may still hold the lock back to the pool: closing
        # the session is what releases it for sure.
        connection.invalidate()
