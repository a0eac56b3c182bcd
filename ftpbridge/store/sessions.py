"""What the ops console keeps in the store for its sessions: the secret its cookies are
signed with, and the sessions signed out before they expired.

The session itself lives in a signed cookie (``web/console/session.py``): no replica holds
anything another would need. The secret is made on first use (256 random bits) and kept
here, so that every replica verifies the cookies any of them signed; two replicas making
it at once agree on whichever row was written first. A cookie stays valid until its expiry;
signing out records the session's id until then, and every replica refuses it.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import IntegrityError

from ftpbridge.store.engine import Store
from ftpbridge.store.schema import console_signouts, signing_keys

SESSION_PURPOSE = "console-session"
SESSION_ID_LENGTH = 64


def signing_secret(store: Store, purpose: str, now: dt.datetime) -> bytes:
    """The secret for ``purpose``, made and stored on first use."""
    with store.connect() as connection:
        found = _read(connection, purpose)
    if found is not None:
        return found
    try:
        with store.begin() as connection:
            connection.execute(
                signing_keys.insert().values(
                    purpose=purpose, secret=secrets.token_hex(32), created_at=now
                )
            )
    except IntegrityError:  # another replica made it first: use theirs
        pass
    with store.connect() as connection:
        made = _read(connection, purpose)
    assert made is not None  # written above, by us or by another replica
    return made


def _read(connection: Connection, purpose: str) -> bytes | None:
    row = connection.execute(
        select(signing_keys.c.secret).where(signing_keys.c.purpose == purpose)
    ).first()
    return bytes.fromhex(row[0]) if row is not None else None


def sign_out(
    connection: Connection, session_id: str, expires_at: dt.datetime, now: dt.datetime
) -> None:
    """Record that ``session_id`` was signed out (until ``expires_at``); drop the records
    of sessions that have expired anyway."""
    connection.execute(delete(console_signouts).where(console_signouts.c.expires_at < now))
    exists = connection.execute(
        select(console_signouts.c.session_id).where(console_signouts.c.session_id == session_id)
    ).first()
    if exists is None:
        connection.execute(
            console_signouts.insert().values(session_id=session_id, expires_at=expires_at)
        )


def is_signed_out(connection: Connection, session_id: str) -> bool:
    row = connection.execute(
        select(console_signouts.c.session_id).where(console_signouts.c.session_id == session_id)
    ).first()
    return row is not None
