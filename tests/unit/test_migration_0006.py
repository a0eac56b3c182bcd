"""Migration 0006 (issue 12: failed takes counted on an inbox file's sighting): up from a
store in use and down again, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from ftpbridge.store import open_store
from ftpbridge.store.engine import _alembic_config, utcnow
from ftpbridge.store.state import failures_of, record_failure


def _migrate(store, revision: str, *, down: bool = False) -> None:
    config = _alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_0006_up_and_down_keeps_the_sightings(empty_store_url: str) -> None:
    """A store at 0005 with a sighting upgrades to 0006 (the sighting has 0 failures),
    counts failures, downgrades back to 0005 (the columns go, the sighting stays) and
    upgrades again."""
    store = open_store(empty_store_url, migrate=False)
    _migrate(store, "0005")
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO sightings (partner, name, size, mtime, first_seen_at, stable_since)"
            " VALUES ('acme', 'a_updated_1.csv', 10, NULL, '2026-12-01', '2026-12-01')"
        )
    _migrate(store, "0006")
    assert store.revision()[0] == "0006"
    with store.begin() as connection:
        assert failures_of(connection, "acme") == {}
        assert record_failure(connection, "acme", "a_updated_1.csv", utcnow(), error="550") == 1
        assert record_failure(connection, "acme", "b_updated_1.csv", utcnow(), error="x") == 1
        assert record_failure(connection, "acme", "a_updated_1.csv", utcnow(), error="no") == 2
        assert failures_of(connection, "acme") == {
            "a_updated_1.csv": (2, "no"),
            "b_updated_1.csv": (1, "x"),
        }
    _migrate(store, "0005", down=True)
    columns = {column["name"] for column in inspect(store.engine).get_columns("sightings")}
    assert not columns & {"failures", "last_error"}
    with store.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM sightings").scalar() == 2
    store.close()
    again = open_store(empty_store_url)
    current, head = again.revision()
    assert current == head and current >= "0006"
    again.close()
