"""API keys: created, listed, revoked, and checked on every request.

A key is ``fb_`` followed by 43 characters of ``secrets.token_urlsafe(32)`` (256 random
bits). Only its SHA-256 is stored. A slow password hash (bcrypt, argon2) is made for
passwords people choose, which can be guessed; a 256-bit random key cannot be, so a fast
hash protects it as well, costs microseconds per request instead of tens of milliseconds,
and lets the store find the key by its hash through a unique index (no per-key compare
loop; every replica checks the same table, each remembering a valid key for a few
seconds at most, so a revoked key stops working everywhere within those seconds: see
web/keycache.py).

Names are unique for ever (a revoked key keeps its row): the audit trail says
``api:NAME``, and a name must always mean one key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from ftpbridge.errors import UsageError
from ftpbridge.store.schema import api_keys

KEY_PREFIX = "fb_"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# last_used_at is written at most this often per key: a write per request would make
# every read a writer (SQLite takes its one write lock for it).
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)
# A key is at most this long: anything longer is refused before it is hashed.
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class ApiKey:
    """A key as the service sees it (never the key itself)."""

    id: int
    name: str
    partner: str | None
    read_only: bool
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def scope(self) -> str:
        return f"partner {self.partner}" if self.partner is not None else "shop (every partner)"

    @property
    def audit_source(self) -> str:
        """What the audit trail records as the source of this key's changes."""
        return f"api:{self.name}"

    def __repr__(self) -> str:  # no hash, no key: names and scope only
        return f"ApiKey(name={self.name!r}, partner={self.partner!r}, read_only={self.read_only})"


def key_hash(key: str) -> str:
    """The SHA-256 (hex) under which a key is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _row(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        partner=row.partner,
        read_only=bool(row.read_only),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise UsageError(
            f"{name[:120]!r} cannot be an API key name",
            hint="use letters, digits, '.', '_' and '-' (up to 100), e.g. acme-wms",
        )
    return name


def create(
    connection: Connection,
    name: str,
    *,
    partner: str | None,
    read_only: bool,
    now: dt.datetime,
) -> tuple[ApiKey, str]:
    """Add a key; return it and the key itself (shown once, never stored).

    Raises UsageError when the name is taken (also by a revoked key).
    """
    check_name(name)
    existing = connection.execute(select(api_keys).where(api_keys.c.name == name)).first()
    if existing is not None:
        raise _name_taken(name, existing.revoked_at)
    key = new_key()
    try:
        key_id = connection.execute(
            api_keys.insert()
            .values(
                name=name,
                key_hash=key_hash(key),
                partner=partner,
                read_only=read_only,
                created_at=now,
            )
            .returning(api_keys.c.id)
        ).scalar_one()
    except IntegrityError:  # another process took the name meanwhile
        raise _name_taken(name, None) from None
    created = ApiKey(int(key_id), name, partner, read_only, now, None, None)
    return created, key


def _name_taken(name: str, revoked_at: dt.datetime | None) -> UsageError:
    if revoked_at is not None:
        return UsageError(
            f"the API key name {name!r} was used by a key revoked on {revoked_at:%Y-%m-%d};"
            " names are never reused (the audit trail names keys)",
            hint=f"choose another name, e.g. {name}-2",
        )
    return UsageError(
        f"there is already an API key named {name!r}",
        hint="choose another name, or revoke the old key first: ftpbridge api-key revoke"
        f" {name} (names are never reused)",
    )


def all_keys(connection: Connection) -> list[ApiKey]:
    rows = connection.execute(select(api_keys).order_by(api_keys.c.name)).all()
    return [_row(row) for row in rows]


def revoke(connection: Connection, name: str, now: dt.datetime) -> ApiKey:
    """Revoke the named key (the service stops taking it within [api] key_cache_seconds).
    Raises UsageError when there is no such key or it is revoked already."""
    row = connection.execute(select(api_keys).where(api_keys.c.name == name)).first()
    if row is None:
        raise UsageError(
            f"there is no API key named {name[:120]!r}", hint="ftpbridge api-key list shows them"
        )
    if row.revoked_at is not None:
        raise UsageError(f"the API key {name!r} was already revoked on {row.revoked_at:%Y-%m-%d}")
    connection.execute(update(api_keys).where(api_keys.c.id == row.id).values(revoked_at=now))
    return _row(row)


def find_active(connection: Connection, key: str) -> ApiKey | None:
    """The unrevoked key whose hash matches ``key``, or None."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    row = connection.execute(
        select(api_keys).where(
            api_keys.c.key_hash == key_hash(key), api_keys.c.revoked_at.is_(None)
        )
    ).first()
    return _row(row) if row is not None else None


def needs_touch(key: ApiKey, now: dt.datetime) -> bool:
    return key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION


def touch(connection: Connection, key: ApiKey, now: dt.datetime) -> None:
    """Record that the key was used now (call only when :func:`needs_touch`)."""
    connection.execute(update(api_keys).where(api_keys.c.id == key.id).values(last_used_at=now))


def find_active_by_id(connection: Connection, key_id: int) -> ApiKey | None:
    """The unrevoked key with this id, or None (the console's session names its key by id:
    a revoked key ends every session signed in with it, on every replica)."""
    row = connection.execute(
        select(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
    ).first()
    return _row(row) if row is not None else None
