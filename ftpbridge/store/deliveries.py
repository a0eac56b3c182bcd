"""Delivering the outbox's events: claiming them with a lease, seeing whether another
sender is still alive, recording what each attempt got, and pruning delivered events.
See :mod:`ftpbridge.store.outbox` for the states and the order events are claimed in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from ftpbridge.errors import StoreError
from ftpbridge.store.engine import Store, execute_many, timestamp_value
from ftpbridge.store.locks import lock_key
from ftpbridge.store.outbox import DELIVERED, PENDING, Event, events_of
from ftpbridge.store.schema import outbox

_CLAIM_LOCK = lock_key("ftpbridge.outbox", "claim")


def new_holder() -> str:
    """A sender's name for its leases: host, process and a random part (``host:pid:hex``)."""
    return f"{socket.gethostname()[:150]}:{os.getpid()}:{os.urandom(6).hex()}"


@contextlib.contextmanager
def presence(store: Store, holder: str) -> Iterator[None]:
    """Be seen alive as ``holder`` while the block runs. PostgreSQL: a session advisory
    lock keyed on the holder, on a connection of its own; when the process dies its
    connection closes and the lock goes, which :func:`claim` of another sender sees.
    SQLite: nothing to do (a claim checks the holder's process)."""
    if store.dialect != "postgresql":
        yield
        return
    key = lock_key("ftpbridge.outbox.holder", holder)
    try:
        connection = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("SELECT pg_advisory_lock(%s)", (key,))
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot reach the store {store.url_for_people}: {exc}") from exc
    try:
        yield
    finally:
        with contextlib.suppress(SQLAlchemyError):
            connection.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,))
        connection.close()


def holder_gone(connection: Connection, holder: str) -> bool:
    """Whether the sender named ``holder`` is certainly gone (its leases can be taken).

    PostgreSQL: nobody holds its advisory lock (see :func:`presence`). SQLite: it ran on
    this machine and its process no longer exists. When in doubt (another machine, a
    process id reused), it is not gone: its leases run out by themselves."""
    if connection.dialect.name == "postgresql":
        key = lock_key("ftpbridge.outbox.holder", holder)
        taken = connection.exec_driver_sql("SELECT pg_try_advisory_xact_lock(%s)", (key,))
        return bool(taken.scalar())
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:150] or not (pid_text.isascii() and pid_text.isdigit()):
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim(
    connection: Connection,
    *,
    channel: str,
    limit: int,
    now: dt.datetime,
    holder: str,
    lease_until: dt.datetime,
) -> list[Event]:
    """Lease up to ``limit`` due events of ``channel`` to ``holder`` until ``lease_until``,
    oldest first, and return them (see the module doc). Run it in a transaction of its
    own (``store.begin()``) and commit before sending."""
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_CLAIM_LOCK,))
    # Active leases are few: read through their own index (lease_until), not the queue.
    holders = (
        connection.execute(select(outbox.c.leased_by).where(outbox.c.lease_until > now).distinct())
        .scalars()
        .all()
    )
    gone = [name for name in holders if name and name != holder and holder_gone(connection, name)]
    if gone:
        connection.execute(
            update(outbox)
            .where(outbox.c.leased_by.in_(gone), outbox.c.state == PENDING)
            .values(lease_until=None, leased_by=None)
        )
    older = outbox.alias("older")
    blocked = (
        select(older.c.id)
        .where(
            older.c.order_id == outbox.c.order_id,
            older.c.channel == outbox.c.channel,
            older.c.state == PENDING,
            older.c.id < outbox.c.id,
            or_(older.c.next_attempt_at > now, older.c.lease_until > now),
        )
        .exists()
    )
    query = (
        select(outbox)
        .where(
            outbox.c.channel == channel,
            outbox.c.state == PENDING,
            outbox.c.next_attempt_at <= now,
            or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now),
            ~blocked,
        )
        .order_by(outbox.c.id)
        .limit(limit)
    )
    if postgresql:
        query = query.with_for_update(skip_locked=True, of=outbox)
    events = events_of(connection, query)
    if events:
        connection.execute(
            update(outbox)
            .where(outbox.c.id.in_([event.id for event in events]))
            .values(lease_until=lease_until, leased_by=holder)
        )
    return [replace(event, lease_until=lease_until, leased_by=holder) for event in events]


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt of the event ``id`` got. ``state``: delivered, pending
    (tried again at ``next_attempt_at``) or dead. ``status``: the HTTP status or SMTP
    code, when there was one; ``error``: for people; ``response``: the receiver's first
    bytes."""

    id: int
    state: str
    next_attempt_at: dt.datetime | None = None
    status: int | None = None
    error: str | None = None
    response: str | None = None


_RECORD_SQL = (
    "UPDATE outbox SET state = ?, attempts = attempts + 1, last_attempt_at = ?,"
    " next_attempt_at = COALESCE(?, next_attempt_at), delivered_at = ?, last_status = ?,"
    " last_error = ?, last_response = ?, lease_until = NULL, leased_by = NULL"
    " WHERE id = ? AND state = 'pending' AND (? OR leased_by IS NULL OR leased_by = ?)"
)


def record(
    connection: Connection, attempts: Sequence[Attempt], now: dt.datetime, holder: str
) -> None:
    """Write what each attempt got and end ``holder``'s leases on them. A delivery always
    counts; a failure only while the lease is still ours (another sender may have taken
    an event whose lease ran out, and its own attempt then counts)."""
    stamp = timestamp_value(connection, now)
    rows = [
        (
            attempt.state,
            stamp,
            None
            if attempt.next_attempt_at is None
            else timestamp_value(connection, attempt.next_attempt_at),
            stamp if attempt.state == DELIVERED else None,
            attempt.status,
            None if attempt.error is None else attempt.error[:2000],
            attempt.response,
            attempt.id,
            attempt.state == DELIVERED,
            holder,
        )
        for attempt in attempts
    ]
    execute_many(connection, _RECORD_SQL, rows)


def prune(connection: Connection, before: dt.datetime, *, limit: int = 10_000) -> int:
    """Delete up to ``limit`` events delivered before ``before``; return how many."""
    ids = (
        select(outbox.c.id)
        .where(outbox.c.delivered_at < before, outbox.c.state == DELIVERED)
        .limit(limit)
    )
    return int(connection.execute(outbox.delete().where(outbox.c.id.in_(ids))).rowcount)
