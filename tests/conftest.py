"""Shared fixtures: a config with two partners, its settings, a store (empty or with the
sample orders loaded) on each backend in turn, SQLite and a throwaway PostgreSQL cluster,
and two ways to run the command line.

``run_cli`` drives the click command in-process (fast, for unit-level CLI checks);
``cli_subprocess`` starts the installed ``ftpbridge`` entry point as a real process, which
is what tests/end_to_end uses.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ftpbridge.files.intake import load_orders
from ftpbridge.settings import Settings, load_settings
from ftpbridge.store import Store, open_store

# `python -m pytest` puts the checkout on sys.path; plain `pytest` does not.
_CHECKOUT = str(Path(__file__).resolve().parent.parent)
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from tests.postgres import PostgresServer, start_postgres  # noqa: E402

REPOSITORY = Path(__file__).resolve().parent.parent
EXAMPLE_ORDERS = REPOSITORY / "examples" / "orders.jsonl"
FTPBRIDGE = Path(sys.executable).parent / "ftpbridge"

# Two partners: "acme" takes everything (default), "ac" takes warehouse SKUs AC-*, lives in
# New York and writes dates month-first. The store is a relative SQLite URL, so it lands
# next to the config file.
CONFIG_TEXT = """\
[store]
url = "sqlite:///ftpbridge.db"

[partners.acme]
default = true

[partners.ac]
skus = ["AC-*"]
timezone = "America/New_York"
date_formats = ["%m/%d/%Y"]
"""

# Every test that uses a store (the ``store`` or ``store_url`` fixture) runs on each.
STORE_BACKENDS = ["sqlite", "postgresql"]

# Variables that would make a test depend on the machine it runs on.
_LEAKY_VARIABLES = ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY", "NOTIFY_SOCKET")


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No FTPBRIDGE_* override, crash point or systemd directory leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith("FTPBRIDGE_") or name in _LEAKY_VARIABLES:
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster for the whole run (tests/postgres.py). It fails the
    tests that need it, loudly, when it cannot start: nothing is skipped."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=STORE_BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    """Each store backend in turn: every test that uses a store runs on both."""
    return str(request.param)


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A PostgreSQL database migrated to the newest schema, frozen as a template: every
    test database is a copy of it (``CREATE DATABASE ... TEMPLATE``) instead of running
    every migration again."""
    return pg_server.create_template("ftpbridge_migrated", lambda url: open_store(url).close())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite store file migrated to the newest schema, copied for every test."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:  # everything in the main file, none in -wal
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def empty_store_url(
    store_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A new, empty database of the backend under test (no schema yet): for the tests of
    migrations themselves. An SQLite file in the test's folder, or a database of its own
    on ``pg_server`` (dropped at the end of the test)."""
    if store_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ftpbridge.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    url = server.create_database()
    yield url
    server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def store_url(store_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new store of the backend under test, already at the newest schema: a copy of
    ``sqlite_template`` in the test's folder, or a database of its own on ``pg_server``
    cloned from ``pg_template`` (made ahead, dropped after the test, both in the
    background). Opening it migrates nothing; tests of the migrations take
    ``empty_store_url``."""
    if store_backend == "sqlite":
        path = tmp_path / "ftpbridge.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    url = server.clone(request.getfixturevalue("pg_template"))
    yield url
    server.drop_database_later(url.rsplit("/", 1)[1])


@pytest.fixture
def config_file(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A config file with the two partners described above, in its own folder. Its store
    is ``store_url`` when the test uses a store (so both backends), else the SQLite file."""
    text = CONFIG_TEXT
    if "store_url" in request.fixturenames:
        url = request.getfixturevalue("store_url")
        text = text.replace('url = "sqlite:///ftpbridge.db"', f"url = {json.dumps(url)}")
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def settings(config_file: Path) -> Settings:
    """The validated settings of ``config_file``."""
    return load_settings(config_file)


@pytest.fixture
def store(settings: Settings, store_url: str) -> Iterator[Store]:
    """An empty, migrated store (``store_url``: SQLite, then PostgreSQL) named by the config."""
    assert settings.store_url == store_url
    opened = open_store(settings.store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def loaded_store(store: Store, settings: Settings) -> Store:
    """The store with examples/orders.jsonl loaded (18 items, one of them cancelled)."""
    load_orders(store, EXAMPLE_ORDERS, list(settings.partners.values()))
    return store


@pytest.fixture
def run_cli(config_file: Path) -> Callable[..., Result]:
    """Run ``ftpbridge --config <config_file> ARGS...`` in-process; returns click's Result
    (``exit_code``, ``stdout``, ``stderr``). Pass ``config=None`` to leave out --config."""
    from ftpbridge.cli import main

    def run(*args: str, config: Path | None = config_file, input: str | None = None) -> Result:
        argv = ["--config", str(config), *args] if config is not None else list(args)
        return CliRunner().invoke(main, argv, input=input, catch_exceptions=False)

    return run


@dataclass(frozen=True)
class Completed:
    """What a finished ``ftpbridge`` process left: exit code and both output streams."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_subprocess() -> Callable[..., Completed]:
    """Run the installed ``ftpbridge`` entry point as a real process.

    ``cli_subprocess(*args, cwd=PATH, env={...})``: ``env`` adds to a copy of the (already
    cleaned) environment. The timeout only stops a hung process; nothing asserts on time.
    """
    assert FTPBRIDGE.exists(), f"the ftpbridge entry point is not installed at {FTPBRIDGE}"

    def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Completed:
        environment = {**os.environ, **(env or {})}
        finished = subprocess.run(
            [str(FTPBRIDGE), *args],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return Completed(finished.returncode, finished.stdout, finished.stderr)

    return run
