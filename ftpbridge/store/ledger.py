"""The ledger of exchanged files: what was exported and imported, when, with what outcome."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, func, select, update

from ftpbridge.store.schema import files

# Import states: "applied" (processed; some rows may have been rejected) and
# "rejected" (the whole file was refused). Inventory files (direction "inventory") have
# those too, "applying" while their transaction runs, and "held" (a snapshot that would
# zero too much of the stock: nothing applied). Export states: "written" (a file was
# made), "uploaded" (it reached the partner's server).


def find_import(connection: Connection, partner: str, sha256: str) -> dict[str, Any] | None:
    """The ledger entry of an import of exactly this content for this partner, if any."""
    row = (
        connection.execute(
            select(files).where(files.c.partner == partner, files.c.import_key == sha256)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def record(connection: Connection, now: dt.datetime, **values: Any) -> int:
    """Add a ledger entry and return its id."""
    values.setdefault("rows_total", 0)
    values.setdefault("rows_applied", 0)
    values.setdefault("rows_unchanged", 0)
    values.setdefault("rows_rejected", 0)
    result = connection.execute(
        files.insert().values(created_at=now, updated_at=now, **values).returning(files.c.id)
    )
    return int(result.scalar_one())


def change(connection: Connection, file_id: int, now: dt.datetime, **values: Any) -> None:
    """Update a ledger entry."""
    connection.execute(update(files).where(files.c.id == file_id).values(updated_at=now, **values))


def recent(
    connection: Connection,
    *,
    partner: str | None = None,
    direction: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The newest ledger entries, newest first."""
    query = select(files)
    if partner is not None:
        query = query.where(files.c.partner == partner)
    if direction is not None:
        query = query.where(files.c.direction == direction)
    if since is not None:
        query = query.where(files.c.created_at >= since)
    query = query.order_by(files.c.created_at.desc(), files.c.id.desc()).limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]


def import_totals(connection: Connection, since: dt.datetime) -> dict[str, dict[str, int]]:
    """Per partner: files imported since ``since`` and their row counts."""
    query = (
        select(
            files.c.partner,
            func.count(),
            func.coalesce(func.sum(files.c.rows_applied), 0),
            func.coalesce(func.sum(files.c.rows_unchanged), 0),
            func.coalesce(func.sum(files.c.rows_rejected), 0),
        )
        .where(files.c.direction == "import", files.c.created_at >= since)
        .group_by(files.c.partner)
    )
    return {
        partner: {
            "files": int(count),
            "applied": int(applied),
            "unchanged": int(unchanged),
            "rejected": int(rejected),
        }
        for partner, count, applied, unchanged, rejected in connection.execute(query)
    }


def uploaded_on(connection: Connection, partner: str, day: str) -> dict[str, Any] | None:
    """The partner's export uploaded for ``day`` (its local date, YYYY-MM-DD), if any."""
    row = (
        connection.execute(
            select(files)
            .where(
                files.c.partner == partner,
                files.c.direction == "export",
                files.c.day == day,
                files.c.state == "uploaded",
            )
            .order_by(files.c.id.desc())
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def export_names_like(connection: Connection, partner: str, name: str) -> set[str]:
    """Names of the partner's uploaded exports that start like ``name`` (before its dot)."""
    stem = name.rsplit(".", 1)[0]
    rows = connection.execute(
        select(files.c.name).where(
            files.c.partner == partner,
            files.c.direction == "export",
            files.c.state == "uploaded",
            files.c.name.startswith(stem, autoescape=True),
        )
    )
    return {row[0] for row in rows}


# --------------------------------------------------------------------------- upload claims
# A normal export claims its partner's day on its own ledger row (``upload_key``) just
# before the upload. The unique constraint lets one row per partner and day hold it: a
# second replica that got that far (a lost lock, a race) fails to claim and uploads nothing.


def claim_upload(connection: Connection, file_id: int, day: str, now: dt.datetime) -> None:
    """Claim ``day`` for the export ``file_id``. Raises sqlalchemy's IntegrityError when
    another export of the same partner holds that day (its transaction is then unusable)."""
    connection.execute(
        update(files).where(files.c.id == file_id).values(upload_key=day, updated_at=now)
    )


def release_upload(
    connection: Connection, file_id: int, now: dt.datetime, *, state: str, message: str
) -> None:
    """Give the day back (the upload failed or never happened) so a later run can claim it."""
    connection.execute(
        update(files)
        .where(files.c.id == file_id)
        .values(upload_key=None, state=state, message=message, updated_at=now)
    )


def upload_claim(connection: Connection, partner: str, day: str) -> dict[str, Any] | None:
    """The export row holding the partner's ``day``, if any (uploaded or not yet)."""
    row = (
        connection.execute(
            select(files).where(files.c.partner == partner, files.c.upload_key == day)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None
