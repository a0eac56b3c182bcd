"""Opening the store: engine, connection settings per dialect, migrations."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

from ftpbridge.errors import StoreError
from ftpbridge.logs import redact_text

SQLITE_BUSY_TIMEOUT_MS = 30_000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _redact(url: str) -> str:
    """The URL for people: its password hidden, in the user part and in the query string
    (``?password=...``) alike, by the one redaction of every message (logs.redact_text)."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable store URL>"
    return redact_text(shown)


def _alembic_config() -> Config:
    config = Config()
    location = resources.files("ftpbridge.store") / "migrations"
    config.set_main_option("script_location", str(location))
    return config


class Store:
    """An open store. ``begin()`` gives a connection inside one transaction."""

    def __init__(self, engine: Engine, url_for_people: str) -> None:
        self.engine = engine
        self.url_for_people = url_for_people

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def reads_beside(self, writer: Connection) -> bool:
        """Whether a second connection can read the store while ``writer`` (in a writing
        transaction) writes, without either waiting for the other.

        PostgreSQL: always. SQLite: only in WAL mode (a filesystem without shared memory
        leaves it in rollback-journal mode, where a reader blocks the writer's commit) and
        not for ``:memory:`` (one database per connection)."""
        if self.dialect != "sqlite":
            return True
        if self.engine.url.database in (None, "", ":memory:"):
            return False
        return str(writer.exec_driver_sql("PRAGMA journal_mode").scalar()).lower() == "wal"

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with (
                self.engine.connect().execution_options(ftpbridge_write=True) as connection,
                connection.begin(),
            ):
                yield connection
        except OperationalError as exc:
            raise StoreError(
                f"the store {self.url_for_people} could not be used: {_first_line(exc)}",
                hint="is another program holding the database? try again in a moment",
            ) from exc

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading (no transaction is committed)."""
        try:
            with self.engine.connect() as connection:
                yield connection
        except OperationalError as exc:
            raise StoreError(
                f"the store {self.url_for_people} could not be used: {_first_line(exc)}"
            ) from exc

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (creates it in an empty database).

        On SQLite, Alembic's batch mode rebuilds a table (copy, drop, rename) to change it;
        with foreign keys enforced, dropping a table others point at fails half-way. So the
        migration runs with foreign keys off, checks them all before it commits (``PRAGMA
        foreign_key_check``), and its connection is discarded afterwards, never reused
        with the checks off.
        """
        config = _alembic_config()
        sqlite = self.dialect == "sqlite"
        try:
            with self.engine.connect().execution_options(
                ftpbridge_write=True, ftpbridge_migrate=True
            ) as connection:
                try:
                    with connection.begin():
                        if _current_revision(connection) == _head_revision(config):
                            return
                        config.attributes["connection"] = connection
                        command.upgrade(config, "head")
                        if sqlite:
                            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                            if broken:
                                raise StoreError(
                                    f"the migration of {self.url_for_people} would leave"
                                    f" {len(broken)} broken references; nothing was changed"
                                )
                finally:
                    if sqlite:
                        connection.invalidate()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot create or upgrade the store schema in {self.url_for_people}:"
                f" {_first_line(exc)}"
            ) from exc

    def revision(self) -> tuple[str | None, str | None]:
        """(current revision, newest available revision)."""
        with self.engine.connect() as connection:
            return _current_revision(connection), _head_revision(_alembic_config())

    def close(self) -> None:
        self.engine.dispose()


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _head_revision(config: Config) -> str | None:
    return ScriptDirectory.from_config(config).get_current_head()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's BEGIN reach SQLite (pysqlite's own transaction handling is off),
    # so "BEGIN IMMEDIATE" below takes the write lock at the start of every transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A writing transaction takes SQLite's write lock up front (BEGIN IMMEDIATE): two
    # writers then queue on busy_timeout instead of failing half-way with "database is
    # locked". Readers (Store.connect) stay deferred and never block the daemon.
    options = connection.get_execution_options()
    if options.get("ftpbridge_migrate"):
        # Only outside a transaction does this pragma take effect (see Store.upgrade).
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    if options.get("ftpbridge_write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL; None for another database, an in-memory one
    or a URL that cannot be read (opening it says what is wrong)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _create_private(database: Path) -> None:
    """Create the SQLite file (and its folder) readable by its owner only, whatever the
    umask: it holds customers' names and addresses. SQLite gives its -wal and -shm files
    the database file's permissions. An existing file is left as it is."""
    folder = database.parent
    try:
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create the store {database}: {exc.strerror}") from None
    os.fchmod(descriptor, 0o600)  # O_CREAT's mode passes through the umask
    os.close(descriptor)


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` (an SQLAlchemy URL) and, by default, migrate it to head.

    Raises :class:`StoreError` with the URL (password hidden) when it cannot be used.
    """
    shown = _redact(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StoreError(
            f"the store URL {shown} is not a valid database URL",
            hint="use e.g. sqlite:///ftpbridge.db or postgresql+psycopg://user@host/db",
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            _create_private(Path(database))
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        # A running job uses up to two connections at once (its lock's and its work's):
        # keep ten idle ones and open more when many jobs run side by side ([daemon]
        # workers bounds them), instead of making a job wait for the pool.
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=-1)
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ModuleNotFoundError) as exc:
        raise StoreError(f"cannot open the store {shown}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    store = Store(engine, shown)
    if migrate:
        try:
            store.upgrade()
        except StoreError:
            engine.dispose()
            raise
    return store


# --------------------------------------------------------------------------- bulk paths
# Hundreds of thousands of rows go through the DB-API driver directly: SQLAlchemy's
# per-row parameter processing costs more than the database's own work at that size
# (measured: 5.3 s of 6.7 s for 500,000 rows on SQLite). The SQL stays portable; only the
# parameter marker follows the driver ("?" for sqlite3, "%s" for psycopg).


def driver_sql(connection: Connection, sql: str) -> str:
    """``sql`` written with ``?`` markers, in the driver's parameter style."""
    return sql if connection.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


def execute_many(connection: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run ``sql`` (``?`` markers) once per row through the driver's executemany."""
    if rows:
        connection.exec_driver_sql(driver_sql(connection, sql), rows)


def fetch_all(
    connection: Connection, sql: str, parameters: tuple[Any, ...]
) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``?`` markers) as plain tuples, straight from the driver."""
    result = connection.exec_driver_sql(driver_sql(connection, sql), parameters)
    try:
        # The DB-API cursor's own tuples: a SQLAlchemy Row per row, turned back into a
        # tuple, cost more than the query (2.7 s of a million-line import's lookups).
        return list(result.cursor.fetchall())
    finally:
        result.close()


@contextlib.contextmanager
def sqlite_cursor(connection: Connection) -> Iterator[sqlite3.Cursor]:
    """SQLite: a cursor of the sqlite3 connection under ``connection``, in its transaction.
    A statement through it skips SQLAlchemy's execution context (about 13 µs a statement,
    90 µs for the 1,000 parameters of an update's lookup); its errors are raised as
    exec_driver_sql raises them (sqlalchemy.exc.OperationalError, IntegrityError...), so
    Store.begin and statement_deadline read them as before.

    The engine leaves sqlite3's own transactions off (BEGIN comes from SQLAlchemy's begin),
    so a transaction is begun here when ``connection`` has none, as exec_driver_sql would:
    a statement through the cursor is never committed on its own."""
    if not connection.in_transaction():
        connection.begin()
    driver: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]
    cursor = driver.cursor()
    try:
        yield cursor
    except sqlite3.Error as exc:
        raise DBAPIError.instance(
            None, None, exc, sqlite3.Error, dialect=connection.dialect
        ) from exc
    finally:
        cursor.close()


def timestamp_value(connection: Connection, value: dt.datetime) -> Any:
    """A UTC timestamp as the driver stores it: the text SQLAlchemy writes for SQLite
    (naive UTC), the aware datetime for PostgreSQL."""
    if connection.dialect.name == "sqlite":
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def copy_rows(
    connection: Connection, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]
) -> None:
    """PostgreSQL only: ``COPY table (columns) FROM STDIN`` of ``rows``, in the caller's
    transaction (the raw psycopg 3 connection under SQLAlchemy's; the cursor's COPY is the
    fastest way in, several times executemany). Values are adapted by psycopg: str, int,
    date and aware datetime, None for NULL. ``table`` and ``columns`` are our identifiers."""
    driver = connection.connection.driver_connection
    if driver is None:  # only a closed connection has none, and ours is in a transaction
        raise StoreError("the connection to PostgreSQL is closed; nothing was written")
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
