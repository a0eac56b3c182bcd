"""Job locks: one replica at a time runs a partner's export, one its poll.

PostgreSQL arbitrates with a session-level advisory lock (``pg_try_advisory_lock``) keyed
on (partner, job), held on a connection of its own for the job's duration and released
after. A replica that dies loses its locks with its connection: PostgreSQL ends the
session when the socket closes, and another replica takes the job at its next run.

SQLite has no replicas: a second ``ftpbridge run`` on one SQLite file refuses to start
(``daemon.single_instance``), so the lock is always granted there.

The lock is an efficiency and tidiness measure; correctness does not rest on it alone:
the ledger's unique keys (``import_key``, ``upload_key``) make a second apply of a file or
a second upload of a day fail safely even if a lock were lost.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

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
    ends, also when it raises. Raises StoreError when PostgreSQL cannot be reached.
    """
    if store.dialect != "postgresql":
        yield True
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
