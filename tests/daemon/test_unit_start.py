"""The unit's own ExecStart= starts the service: run as systemd would run it (tests/unitrun.py),
as an unprivileged user, until it tells systemd READY=1; SIGTERM then stops it with exit 0.

This is what broke in production: the unit said ``ftpbridge run --config PATH`` and the
command line took ``--config`` only before ``run``, so the service exited with "No such
option" and was restarted every 10 s for ever, while a test comparing the unit's text passed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_CHECKOUT = str(Path(__file__).resolve().parents[2])
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from tests.servers import wait_for  # noqa: E402
from tests.unitrun import (  # noqa: E402
    SERVICE_USER,
    inside,
    link_venv,
    parse_unit,
    start_service,
    values,
)

UNIT = Path(_CHECKOUT) / "systemd" / "ftpbridge.service"


@pytest.fixture
def root() -> Iterator[Path]:
    """A sandbox root the service user can traverse (pytest's own tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="ftpbridge-unit-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _service_config(root: Path) -> Path:
    """/etc/ftpbridge/config.toml (in the sandbox): one partner on a local share, and no
    state_dir: the service must take systemd's $STATE_DIRECTORY."""
    account = pwd.getpwnam(SERVICE_USER)
    share = root / "srv" / "acme"
    for folder in (share / "out", share / "in"):
        folder.mkdir(parents=True)
    for path in (share, share / "out", share / "in"):
        os.chown(path, account.pw_uid, account.pw_gid)
    config = inside(root, "/etc/ftpbridge/config.toml")
    config.parent.mkdir(parents=True)
    config.write_text(
        "[partners.acme]\n"
        "default = true\n"
        'transport = "local"\n'
        f'path = "{share}"\n'
        'outbox = "/out"\n'
        'inbox = "/in"\n',
        encoding="utf-8",
    )
    config.chmod(0o644)
    # The unit loads the credentials folder (LoadCredential=); the README makes it.
    inside(root, "/etc/ftpbridge/credentials").mkdir(mode=0o700)
    return config


def test_unit_exec_start_runs_unprivileged_until_ready_and_stops_cleanly(root: Path) -> None:
    """ExecStart= as written in the unit, as ``nobody``, with the unit's Environment=,
    STATE_DIRECTORY and CREDENTIALS_DIRECTORY: READY=1 on the notify socket, the store
    created in the state directory (owned by the service user, private), STOPPING=1 and
    exit 0 on SIGTERM, and nothing written next to the config."""
    directives = parse_unit(UNIT)
    assert values(directives, "ExecStart") == [
        "/opt/ftpbridge/venv/bin/ftpbridge run --config /etc/ftpbridge/config.toml"
    ]
    link_venv(root)
    _service_config(root)
    before = sorted(path.name for path in inside(root, "/etc/ftpbridge").iterdir())
    service = start_service(UNIT, root=root)
    try:
        service.wait_ready()
        # The service really runs its partner's jobs (today's missed export, at once):
        # wait for its outcome in the store before stopping it.
        wait_for(lambda: _job_states(service.state / "ftpbridge.db"), "a job's outcome")
        assert service.stop() == 0, service.log()
    finally:
        service.kill()
    assert any("STOPPING=1" in message for message in service.messages), service.messages
    assert "No such option" not in service.log()
    store = service.state / "ftpbridge.db"
    assert store.exists(), service.log()
    assert store.stat().st_uid == pwd.getpwnam(SERVICE_USER).pw_uid
    assert store.stat().st_mode & 0o077 == 0  # UMask=0077
    assert _job_states(store) >= 1, service.log()
    assert sorted(path.name for path in inside(root, "/etc/ftpbridge").iterdir()) == before


def _job_states(store: Path) -> int:
    """How many job outcomes the service's store holds (0 before it has any)."""
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as connection:
            [(count,)] = connection.execute("SELECT count(*) FROM job_state").fetchall()
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    return int(count)


def test_unit_stopped_right_after_ready_exits_0(root: Path) -> None:
    """SIGTERM at once after READY=1, while today's missed export is being handed to a
    worker: exit 0 (APScheduler's main loop raised JobLookupError removing that one-off
    job from the stopped scheduler, and the service exited 70)."""
    link_venv(root)
    _service_config(root)
    service = start_service(UNIT, root=root)
    try:
        service.wait_ready()
        assert service.stop() == 0, service.log()
    finally:
        service.kill()
    assert "Internal error" not in service.log()
