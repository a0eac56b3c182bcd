"""What makes several replicas safe on one store: job locks (PostgreSQL advisory locks),
the ledger's upload claim (UNIQUE(partner, upload_key)), migrations on both backends, and
the PostgreSQL bulk paths (a server-side cursor for export, COPY for import)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from ftpbridge.errors import AlreadyDoneError, TransportError
from ftpbridge.exchange import export as exchange
from ftpbridge.exchange.export import export_and_upload
from ftpbridge.files.intake import load_orders
from ftpbridge.settings import Settings, build_settings
from ftpbridge.store import Store, ledger, open_store
from ftpbridge.store.engine import _alembic_config, utcnow
from ftpbridge.store.exports import iter_exportable
from ftpbridge.store.locks import job_lock, lock_key
from ftpbridge.store.schema import files
from tests.postgres import PostgresServer
from tests.servers import wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
DAY = "2026-11-23"


def export_row(connection: Any, name: str, *, state: str = "written", day: str = DAY) -> int:
    return ledger.record(
        connection,
        NOW,
        partner="acme",
        direction="export",
        name=name,
        sha256="0" * 64,
        size=1,
        state=state,
        day=day,
    )


def local_settings(tmp_path: Path, store_url: str) -> Settings:
    """One partner ``acme`` exchanging through a local folder, on the store under test."""
    root = tmp_path / "share"
    (root / "out").mkdir(parents=True, exist_ok=True)
    (root / "in").mkdir(parents=True, exist_ok=True)
    return build_settings(
        {
            "store": {"url": store_url},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "partners": {
                "acme": {
                    "default": True,
                    "transport": "local",
                    "path": str(root),
                    "outbox": "/out",
                    "inbox": "/in",
                    "timezone": "UTC",
                }
            },
        },
        config_path=tmp_path / "config.toml",
    )


# --------------------------------------------------------------------------- migrations


def test_migrations_create_the_newest_schema(empty_store_url: str) -> None:
    """An empty database is migrated to the newest revision on open, on both backends."""
    store = open_store(empty_store_url)
    try:
        current, head = store.revision()
    finally:
        store.close()
    assert current == head == "0010"


def test_upgrade_to_0003_keys_the_first_upload_of_each_day(empty_store_url: str) -> None:
    """Upgrading a store with uploads from before 0003 gives each partner's day to its first
    upload, so an upgraded replica does not upload that day again; forced ones keep NULL."""
    store = open_store(empty_store_url, migrate=False)
    try:
        config = _alembic_config()
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
        with store.engine.begin() as connection:
            for name, state in (
                ("a.csv", "uploaded"),
                ("a-2.csv", "uploaded"),
                ("b.csv", "written"),
            ):
                connection.execute(
                    text(
                        "INSERT INTO files (partner, direction, name, sha256, size, state,"
                        " rows_total, rows_applied, rows_unchanged, rows_rejected, day,"
                        " created_at, updated_at) VALUES ('acme', 'export', :name, '', 1,"
                        " :state, 0, 0, 0, 0, :day, :now, :now)"
                    ),
                    {"name": name, "state": state, "day": DAY, "now": NOW.replace(tzinfo=None)},
                )
        store.upgrade()
        with store.connect() as connection:
            keys = dict(connection.execute(select(files.c.name, files.c.upload_key)).all())
        assert keys == {"a.csv": DAY, "a-2.csv": None, "b.csv": None}
    finally:
        store.close()


# --------------------------------------------------------------------------- upload claims


def test_one_claim_per_partner_and_day(store: Store) -> None:
    """UNIQUE(partner, upload_key): a second export cannot claim the same partner's day,
    another day or another partner can, and unclaimed rows (NULL) never collide."""
    with store.begin() as connection:
        first, second, other_day = (
            export_row(connection, "a.csv"),
            export_row(connection, "b.csv"),
            export_row(connection, "c.csv", day="2026-11-24"),
        )
        ledger.claim_upload(connection, first, DAY, NOW)
        ledger.claim_upload(connection, other_day, "2026-11-24", NOW)
    with pytest.raises(IntegrityError), store.begin() as connection:
        ledger.claim_upload(connection, second, DAY, NOW)
    with store.begin() as connection:
        ledger.release_upload(connection, first, NOW, state="failed", message="upload failed")
        ledger.claim_upload(connection, second, DAY, NOW)
        assert ledger.upload_claim(connection, "acme", DAY)["name"] == "b.csv"


def test_export_that_loses_the_race_for_the_day_uploads_nothing(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another replica claims the day while this one writes its file (as if a lock were
    lost): this one raises AlreadyDoneError, uploads nothing, and its row says why."""
    settings = local_settings(tmp_path, store_url)
    store = open_store(store_url)
    try:
        load_orders(store, EXAMPLES, list(settings.partners.values()))
        real_export = exchange.export_partner

        def export_then_other_replica_claims(*args: Any, **kwargs: Any) -> Any:
            result = real_export(*args, **kwargs)
            with store.begin() as connection:
                other = export_row(connection, "other-replica.csv", day=result.day)
                ledger.claim_upload(connection, other, result.day, utcnow())
            return result

        monkeypatch.setattr(exchange, "export_partner", export_then_other_replica_claims)
        with pytest.raises(AlreadyDoneError, match="another ftpbridge replica"):
            export_and_upload(store, settings, settings.partners["acme"])
        assert list((tmp_path / "share" / "out").iterdir()) == []
        with store.connect() as connection:
            rows = {row.name: row for row in connection.execute(select(files))}
        ours = next(row for name, row in rows.items() if name != "other-replica.csv")
        assert (ours.state, ours.upload_key) == ("not_uploaded", None)
    finally:
        store.close()


def test_failed_upload_gives_the_day_back(store_url: str, tmp_path: Path) -> None:
    """An upload that fails releases the day's claim (state failed): the next try uploads."""
    settings = local_settings(tmp_path, store_url)
    store = open_store(store_url)
    try:
        load_orders(store, EXAMPLES, list(settings.partners.values()))
        outbox = tmp_path / "share" / "out"
        outbox.rmdir()
        outbox.write_text("a file where the outbox folder should be")
        with pytest.raises(TransportError):
            export_and_upload(store, settings, settings.partners["acme"])
        with store.connect() as connection:
            (failed,) = connection.execute(select(files)).all()
        assert (failed.state, failed.upload_key) == ("failed", None)
        outbox.unlink()
        outbox.mkdir()
        outcome = export_and_upload(store, settings, settings.partners["acme"])
        assert outcome.export is not None
        with store.connect() as connection:
            uploaded = ledger.uploaded_on(connection, "acme", outcome.export.day)
        assert uploaded is not None and uploaded["upload_key"] == outcome.export.day
        assert [path.name for path in outbox.iterdir()] == [outcome.export.name]
    finally:
        store.close()


def test_a_claim_left_by_a_dead_run_is_released(store_url: str, tmp_path: Path) -> None:
    """A run that claimed the day and died before its upload finished does not block the
    day: the next run (holding the export lock) releases it and uploads one file."""
    settings = local_settings(tmp_path, store_url)
    store = open_store(store_url)
    try:
        load_orders(store, EXAMPLES, list(settings.partners.values()))
        day = utcnow().date().isoformat()
        with store.begin() as connection:
            dead = export_row(connection, "dead.csv", day=day)
            ledger.claim_upload(connection, dead, day, utcnow())
        outcome = export_and_upload(store, settings, settings.partners["acme"])
        assert outcome.export is not None
        with store.connect() as connection:
            states = dict(connection.execute(select(files.c.name, files.c.state)).all())
        assert states == {"dead.csv": "abandoned", outcome.export.name: "uploaded"}
        with pytest.raises(AlreadyDoneError):
            export_and_upload(store, settings, settings.partners["acme"])
    finally:
        store.close()


# --------------------------------------------------------------------------- job locks


def test_lock_key_is_stable_and_distinct() -> None:
    """Keys are signed 64-bit, the same in every process, different per partner and job."""
    assert lock_key("acme", "poll") == lock_key("acme", "poll")
    keys = {lock_key(partner, job) for partner in ("acme", "ac") for job in ("poll", "export")}
    assert len(keys) == 4
    assert all(-(2**63) <= key < 2**63 for key in keys)


def test_sqlite_lock_is_exclusive_per_partner_and_job(tmp_path: Path) -> None:
    """On SQLite the job lock is an flock next to the database (issue 11 item 7): a second
    holder, in this process or in another one on the same file, is refused while the
    first holds it; other partners and jobs are not; the lock is free once let go, and a
    holder that dies (killed) loses it with its process."""
    url = f"sqlite:///{tmp_path / 'one.db'}"
    store, other = open_store(url), open_store(url)
    try:
        with job_lock(store, "acme", "export") as first:
            assert first
            with job_lock(other, "acme", "export") as second:
                assert not second
            with job_lock(other, "acme", "poll") as poll, job_lock(other, "ac", "export") as ac:
                assert poll and ac
            code = (
                "import sys; from ftpbridge.store import open_store;"
                " from ftpbridge.store.locks import job_lock\n"
                "with job_lock(open_store(sys.argv[1]), 'acme', 'export') as held:\n"
                "    print(held)"
            )
            result = subprocess.run(
                [sys.executable, "-c", code, url], capture_output=True, text=True, check=True
            )
            assert result.stdout.strip() == "False"
        with job_lock(other, "acme", "export") as after:
            assert after
        holder = subprocess.Popen(
            [sys.executable, "-c", code.replace("print(held)", "print(held, flush=True);"
             " sys.stdin.read()"), url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        with job_lock(store, "acme", "export") as while_alive:
            assert not while_alive
        holder.kill()
        holder.wait()
        with job_lock(store, "acme", "export") as after_death:
            assert after_death
    finally:
        store.close()
        other.close()


@pytest.fixture
def two_replicas(pg_server: PostgresServer) -> Any:
    """Two stores (engines with their own pools, like two processes) on one database."""
    url = pg_server.create_database()
    first, second = open_store(url), open_store(url)
    yield first, second
    first.close()
    second.close()
    pg_server.drop_database(url.rsplit("/", 1)[1])


def test_postgresql_lock_is_exclusive_per_partner_and_job(two_replicas: Any) -> None:
    """While one replica holds (acme, poll), another does not get it, but gets (acme,
    export) and (ac, poll); once released, the other gets it."""
    first, second = two_replicas
    with job_lock(first, "acme", "poll") as held:
        assert held
        with job_lock(second, "acme", "poll") as again:
            assert not again
        with job_lock(second, "acme", "export") as export, job_lock(second, "ac", "poll") as ac:
            assert export and ac
    with job_lock(second, "acme", "poll") as after:
        assert after


def test_postgresql_lock_is_released_when_the_job_raises(two_replicas: Any) -> None:
    """A job that raises still releases its lock, and its connection is not left holding it."""
    first, second = two_replicas
    with pytest.raises(RuntimeError), job_lock(first, "acme", "export") as held:
        assert held
        raise RuntimeError("the job failed")
    with job_lock(second, "acme", "export") as taken:
        assert taken
    with first.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        ).scalar()
    assert count == 0


def test_postgresql_lock_dies_with_its_session(two_replicas: Any) -> None:
    """A replica whose session ends (killed process, cut connection) loses its lock at once:
    another replica takes the job."""
    first, second = two_replicas
    started, release = threading.Event(), threading.Event()
    pids: list[int] = []

    def holder() -> None:
        with job_lock(first, "acme", "poll") as held:
            assert held
            with first.connect() as connection:
                pids.extend(
                    row[0]
                    for row in connection.execute(
                        text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")
                    )
                )
            started.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert started.wait(10)
        with job_lock(second, "acme", "poll") as taken:
            assert not taken
        with second.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
            connection.commit()

        def lock_taken() -> bool:
            with job_lock(second, "acme", "poll") as taken:
                return taken

        wait_for(lock_taken, "the lock of the terminated session to be free", timeout=10)
    finally:
        release.set()
        thread.join()


# --------------------------------------------------------------------------- bulk paths


def test_export_streams_with_a_server_side_cursor(loaded_store: Store, store_url: str) -> None:
    """Export reads its rows in batches; on PostgreSQL through a named (server-side) cursor,
    so a large export never sits in memory at once. Writes after it still work."""
    with loaded_store.begin() as connection:
        batches = iter_exportable(connection, "acme", new_only=False, batch=5)
        first = next(batches)
        if store_url.startswith("postgresql"):
            cursors = connection.execute(text("SELECT count(*) FROM pg_cursors")).scalar()
            assert cursors == 1
        rest = [row for batch in batches for row in batch]
        assert len(first) == 5 and len(first) + len(rest) == 13  # acme's unshipped items
        connection.execute(update(files).values(message="x"))  # a plain statement afterwards
