"""Operational state: sightings of remote files (settling) and how each job last went."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from ftpbridge.store.schema import job_state, sightings


@dataclass(frozen=True)
class Seen:
    """A remote file as listed: name, size and modification time (ISO text or None)."""

    name: str
    size: int | None
    mtime: str | None


def observe(
    connection: Connection,
    partner: str,
    listed: Iterable[Seen],
    now: dt.datetime,
    settle_seconds: float,
) -> list[str]:
    """Record a listing of the partner's candidate files; return the names now settled.

    A file is settled when its size and mtime are the same as at a listing at least
    ``settle_seconds`` ago (0: at once). Files no longer listed are forgotten.
    """
    listed = list(listed)
    known = {
        row.name: row
        for row in connection.execute(select(sightings).where(sightings.c.partner == partner))
    }
    settled: list[str] = []
    fresh: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for entry in listed:
        row = known.get(entry.name)
        if row is None:
            fresh.append(
                {
                    "partner": partner,
                    "name": entry.name,
                    "size": entry.size,
                    "mtime": entry.mtime,
                    "first_seen_at": now,
                    "stable_since": now,
                }
            )
            if settle_seconds <= 0:
                settled.append(entry.name)
        elif row.size != entry.size or row.mtime != entry.mtime:
            changed.append({"b_name": entry.name, "b_size": entry.size, "b_mtime": entry.mtime})
            if settle_seconds <= 0:
                settled.append(entry.name)
        elif (now - row.stable_since).total_seconds() >= settle_seconds:
            settled.append(entry.name)
    if fresh:
        connection.execute(insert(sightings), fresh)
    if changed:
        connection.execute(
            update(sightings)
            .where(sightings.c.partner == partner, sightings.c.name == bindparam("b_name"))
            .values(size=bindparam("b_size"), mtime=bindparam("b_mtime"), stable_since=now),
            changed,
        )
    gone = set(known) - {entry.name for entry in listed}
    if gone:
        connection.execute(
            delete(sightings).where(sightings.c.partner == partner, sightings.c.name.in_(gone))
        )
    return settled


def forget(connection: Connection, partner: str, name: str) -> None:
    """Drop the sighting of a file that was taken."""
    connection.execute(
        delete(sightings).where(sightings.c.partner == partner, sightings.c.name == name)
    )


# --------------------------------------------------------------------------- issue 12
# Files a poll could not take (a download refused, too slow, not a regular file): counted
# on their sighting, so that one bad entry is retried a bounded number of times and never
# blocks the others (see exchange/poll.py).


def record_failure(
    connection: Connection, partner: str, name: str, now: dt.datetime, *, error: str
) -> int:
    """Count one more failed take of ``name``; return how many polls in a row failed it."""
    key = and_(sightings.c.partner == partner, sightings.c.name == name)
    row = connection.execute(select(sightings.c.failures).where(key)).first()
    if row is None:
        connection.execute(
            insert(sightings).values(
                partner=partner,
                name=name,
                first_seen_at=now,
                stable_since=now,
                failures=1,
                last_error=error,
            )
        )
        return 1
    failures = int(row.failures or 0) + 1
    connection.execute(update(sightings).where(key).values(failures=failures, last_error=error))
    return failures


def failures_of(connection: Connection, partner: str) -> dict[str, tuple[int, str | None]]:
    """The partner's files that failed at least once: name → (failures, last error)."""
    rows = connection.execute(
        select(sightings.c.name, sightings.c.failures, sightings.c.last_error).where(
            sightings.c.partner == partner, sightings.c.failures > 0
        )
    )
    return {row.name: (int(row.failures), row.last_error) for row in rows}


def forget_unlisted(connection: Connection, partner: str, listed: Iterable[str]) -> None:
    """Forget the failures of files no longer in the inbox (taken away by someone)."""
    names = set(listed)
    gone = [name for name in failures_of(connection, partner) if name not in names]
    if gone:
        connection.execute(
            delete(sightings).where(sightings.c.partner == partner, sightings.c.name.in_(gone))
        )


def job_finished(
    connection: Connection,
    partner: str,
    job: str,
    now: dt.datetime,
    *,
    error: str | None,
    replica: str | None = None,
) -> int:
    """Record the end of a job run; return the number of consecutive failures now."""
    key = and_(job_state.c.partner == partner, job_state.c.job == job)
    row = connection.execute(select(job_state).where(key)).first()
    failures = 0 if error is None else (row.consecutive_failures if row else 0) + 1
    values: dict[str, Any] = {
        "last_run_at": now,
        "consecutive_failures": failures,
        "replica": replica,
    }
    if error is None:
        values["last_success_at"] = now
    else:
        values["last_error"] = error
        values["last_error_at"] = now
    if row is None:
        connection.execute(insert(job_state).values(partner=partner, job=job, **values))
    else:
        connection.execute(update(job_state).where(key).values(**values))
    return failures


def all_job_states(connection: Connection) -> dict[tuple[str, str], dict[str, Any]]:
    """(partner, job) → its state row."""
    return {
        (row["partner"], row["job"]): dict(row)
        for row in connection.execute(select(job_state)).mappings()
    }
