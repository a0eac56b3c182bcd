"""A throwaway PostgreSQL cluster for tests and benchmarks: ``initdb`` in a temporary
directory, ``pg_ctl start`` on a free loopback port, databases on demand, and removal at
the end. Nothing is mocked: the tests talk to a real PostgreSQL through psycopg 3.

    server = start_postgres()                       # fails loudly if it cannot
    url = server.create_database()                  # a fresh, empty database
    url = server.create_database(template=...)      # a copy of another one (fast)
    name = server.create_template("t", prepare)     # prepare(url) once, then frozen
    url = server.clone(name)                        # a copy, made ahead in the background
    server.drop_database_later(name)                # dropped in the background
    server.stop()                                   # stops the cluster, removes its files

PostgreSQL refuses to run as root: under root the cluster belongs to the ``postgres``
system user (Debian's package creates it) and every server command runs through
``runuser``; any other user runs it as itself. Authentication is ``trust`` on loopback
only, with a dedicated superuser, and the unix socket stays inside the temporary folder.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql

SUPERUSER = "ftpbridge_test"
LOOPBACK = "127.0.0.1"
START_ATTEMPTS = 3
READY_TIMEOUT_SECONDS = 30.0

# Speed over durability: a test cluster never survives a crash anyway.
SERVER_SETTINGS = {
    "listen_addresses": LOOPBACK,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
    "log_line_prefix": "%m [%p] %d ",
}


class PostgresUnavailable(RuntimeError):
    """Raised when no cluster could be started; the message says what to install or fix."""


def find_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    override = os.environ.get("FTPBRIDGE_TEST_PG_BIN")
    candidates = [Path(override)] if override else []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = [path for path in root.iterdir() if path.name.isdigit()]
        candidates += [path / "bin" for path in sorted(versions, key=lambda p: -int(p.name))]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise PostgresUnavailable(
        "PostgreSQL is not installed (no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on PATH);"
        " scripts/test installs it, or run: apt-get install -y postgresql"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway cluster. ``url(database)`` gives an ftpbridge store URL."""

    bin_dir: Path
    folder: Path
    port: int
    run_as: str | None  # the system user the server runs as (None: the current user)
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # One thread that makes the next clone and drops old databases while tests run.
    _worker: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="postgres-clones")
    )
    _ahead: dict[str, Future[str]] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def socket_dir(self) -> Path:
        return self.folder / "socket"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{LOOPBACK}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={LOOPBACK} port={self.port} user={SUPERUSER} dbname={database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A psycopg connection in autocommit mode (CREATE DATABASE needs it)."""
        return psycopg.connect(self.conninfo(database), autocommit=True, connect_timeout=10)

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a database (empty, or a copy of ``template``) and return its store URL.

        Names are unique per cluster (``t<pid>_<n>``), so tests never share a database.
        """
        with self._lock:
            name = name or f"t{os.getpid()}_{next(self._names)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        with self.connect() as connection:
            connection.execute(statement)
        return self.url(name)

    def create_template(self, name: str, prepare: Callable[[str], None]) -> str:
        """Create database ``name``, run ``prepare(url)`` on it (e.g. migrate it), then
        freeze it as a template: no connections allowed, so ``create_database(template=
        name)`` never meets "source database is being accessed by other users". Returns
        ``name``. ``prepare`` must close its connections."""
        url = self.create_database(name)
        prepare(url)
        identifier = sql.Identifier(name)
        with self.connect() as connection:
            connection.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                    identifier
                )
            )
        return name

    def clone(self, template: str) -> str:
        """A new database copied from ``template``; returns its store URL.

        The copy handed out was made in the background while the previous caller used its
        own (CREATE DATABASE copies every file of the template: tens of milliseconds), and
        the next one is started now. A copy that failed raises here, with PostgreSQL's
        message."""
        with self._lock:
            ready = self._ahead.get(template)
            self._ahead[template] = self._worker.submit(self.create_database, template=template)
        return ready.result() if ready is not None else self.create_database(template=template)

    def drop_database_later(self, name: str) -> None:
        """Drop a database in the background (``stop`` waits for it)."""
        self._worker.submit(self.drop_database, name)

    def drop_database(self, name: str) -> None:
        """Drop a database, ending whatever sessions still use it (PostgreSQL 13+)."""
        with self.connect() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self) -> None:
        """Stop the cluster (fast shutdown: sessions are cut) and remove its folder."""
        self._worker.shutdown(wait=True)  # clones made ahead and drops: done or failed
        try:
            if (self.data_dir / "postmaster.pid").exists():
                _run(
                    self.run_as,
                    [
                        str(self.bin_dir / "pg_ctl"),
                        "stop",
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        "30",
                    ],
                    check=False,
                )
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _run(
    run_as: str | None, argv: list[str], *, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    command = ["runuser", "-u", run_as, "--", *argv] if run_as else argv
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, cwd="/"
    )
    if check and finished.returncode != 0:
        raise PostgresUnavailable(
            f"{' '.join(argv[:2])} failed with exit code {finished.returncode}:\n"
            f"{finished.stdout}{finished.stderr}"
        )
    return finished


def start_postgres(parent: Path | None = None) -> PostgresServer:
    """initdb + pg_ctl start on a free loopback port; wait until it takes connections.

    Raises :class:`PostgresUnavailable` (never skips) with the server's own words when the
    cluster cannot be created or started.
    """
    bin_dir = find_bin_dir()
    run_as: str | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root and there is no 'postgres' system user to run PostgreSQL as"
                " (PostgreSQL refuses to run as root); install the postgresql package"
            ) from None
        run_as = "postgres"
    # A folder of its own under /tmp (not pytest's 0700 root-owned tree, which the postgres
    # user could not enter), owned by whoever runs the server.
    folder = Path(tempfile.mkdtemp(prefix="ftpbridge-pg-", dir=parent))
    try:
        (folder / "socket").mkdir()
        if run_as:
            for path in (folder, folder / "socket"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        _run(
            run_as,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(folder / "data"),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )
        settings = {**SERVER_SETTINGS, "unix_socket_directories": str(folder / "socket")}
        with (folder / "data" / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# ftpbridge tests\n")
            for key, value in settings.items():
                conf.write(f"{key} = '{value}'\n")
        last_error = ""
        for _attempt in range(START_ATTEMPTS):
            port = free_port()
            server = PostgresServer(bin_dir, folder, port, run_as)
            started = _run(
                run_as,
                [
                    str(bin_dir / "pg_ctl"),
                    "start",
                    "-D",
                    str(server.data_dir),
                    "-l",
                    str(server.log_file),
                    "-o",
                    f"-p {port}",
                    "-w",
                    "-t",
                    str(int(READY_TIMEOUT_SECONDS)),
                ],
                check=False,
            )
            if started.returncode == 0 and _ready(server):
                return server
            # Most likely the port was taken between free_port() and the bind: try another.
            log = server.log_file.read_text(errors="replace") if server.log_file.exists() else ""
            last_error = f"{started.stdout}{started.stderr}{log[-2000:]}"
            _run(
                run_as,
                [str(bin_dir / "pg_ctl"), "stop", "-D", str(server.data_dir), "-m", "immediate"],
                check=False,
            )
        raise PostgresUnavailable(
            f"PostgreSQL did not start after {START_ATTEMPTS} attempts:\n{last_error}"
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _ready(server: PostgresServer) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            with server.connect() as connection:
                connection.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            time.sleep(0.1)
    return False
