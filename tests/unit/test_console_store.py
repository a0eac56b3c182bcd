"""The console's tables (migration 0009) and what the store keeps for its sessions."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import inspect

from ftpbridge.store import open_store, sessions
from ftpbridge.store.engine import _alembic_config, utcnow


def test_0009_upgrades_and_downgrades(empty_store_url: str) -> None:
    """At head the store has the signing key and sign-out tables and the tracking-number
    index; downgraded to 0005 they are gone (and nothing else); upgraded again they return."""
    store = open_store(empty_store_url)
    inspector = inspect(store.engine)
    assert {"signing_keys", "console_signouts"} <= set(inspector.get_table_names())
    assert "ix_items_tracking_number" in {i["name"] for i in inspector.get_indexes("items")}
    secret = sessions.signing_secret(store, "console-session", utcnow())
    config = _alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    inspector = inspect(store.engine)
    tables = set(inspector.get_table_names())
    assert not {"signing_keys", "console_signouts"} & tables
    assert {"items", "files", "api_keys"} <= tables
    assert "ix_items_tracking_number" not in {i["name"] for i in inspector.get_indexes("items")}
    store.close()
    reopened = open_store(empty_store_url)
    assert reopened.revision()[0] == reopened.revision()[1] == "0010"
    again = sessions.signing_secret(reopened, "console-session", utcnow())
    assert len(again) == 32 and again != secret  # a new secret: old cookies end
    reopened.close()


def test_the_signing_secret_is_made_once_and_shared(empty_store_url: str) -> None:
    """Two stores on one database (two replicas) get the same secret; it is 256 bits."""
    first, second = open_store(empty_store_url), open_store(empty_store_url)
    made = sessions.signing_secret(first, "console-session", utcnow())
    assert len(made) == 32
    assert sessions.signing_secret(second, "console-session", utcnow()) == made
    assert sessions.signing_secret(first, "other", utcnow()) != made
    first.close()
    second.close()


def test_a_sign_out_is_kept_until_the_session_would_have_expired(empty_store_url: str) -> None:
    """A signed-out session is refused; its record is dropped once its expiry has passed
    (at the next sign-out), so the table does not grow for ever."""
    store = open_store(empty_store_url)
    now = utcnow()
    with store.begin() as connection:
        sessions.sign_out(connection, "old", now + dt.timedelta(minutes=1), now)
        sessions.sign_out(connection, "old", now + dt.timedelta(minutes=1), now)  # twice: fine
    with store.connect() as connection:
        assert sessions.is_signed_out(connection, "old")
        assert not sessions.is_signed_out(connection, "other")
    later = now + dt.timedelta(minutes=2)
    with store.begin() as connection:
        sessions.sign_out(connection, "new", later + dt.timedelta(hours=12), later)
    with store.connect() as connection:
        assert not sessions.is_signed_out(connection, "old")
        assert sessions.is_signed_out(connection, "new")
    store.close()
