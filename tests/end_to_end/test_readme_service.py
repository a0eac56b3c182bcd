"""The README's "Running as a service" block, command by command, in a sandbox root folder.

The block is read from README.md itself, so the README cannot drift from what works. Each
line is run as written (``sudo`` dropped: the tests run as root), with the unit's system
paths (/etc/ftpbridge, /etc/systemd/system, /opt/ftpbridge, /var/lib/ftpbridge) taken
inside the sandbox so that nothing on the machine is touched, except these, which need a
running systemd or PyPI and are replaced by their equivalent:

- ``python3 -m venv`` / ``pip install``: ``/opt/ftpbridge/venv`` is linked to the virtual
  environment the tests run in (ftpbridge installed from this checkout);
- "then edit it": the copied example config gets a partner ``acme`` on a real FTP server
  (pyftpdlib on 127.0.0.1) whose password is the README's ``'the password'``;
- ``systemctl daemon-reload``: ``systemd-analyze verify`` of the installed unit;
- ``systemctl enable --now``: the installed unit's ExecStart= run as systemd would
  (tests/unitrun.py: an unprivileged user, its credentials, state directory and notify
  socket) until READY=1;
- ``journalctl -f``: the service's own output, checked to be JSON lines.

The password reaches the service only as a credential (the folder LoadCredential=), so a
successful poll proves the credential names; the admin's ``status`` (run as root, outside
the service) must then read the service's store and see that poll.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_CHECKOUT = Path(__file__).resolve().parents[2]
if str(_CHECKOUT) not in sys.path:
    sys.path.insert(0, str(_CHECKOUT))

from tests.servers import start_ftp_server, wait_for  # noqa: E402
from tests.unitrun import inside, link_venv, start_service  # noqa: E402

README = _CHECKOUT / "README.md"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def service_block() -> list[str]:
    """The shell lines of the README's service section (its first ```sh block)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Running as a service (systemd)") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the service section has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def sandboxed(root: Path, line: str) -> str:
    """A README line with ``sudo`` dropped and the unit's system paths inside ``root``."""
    command = line.split("  #", 1)[0].strip()
    command = re.sub(r"^sudo ", "", command)
    for system in ("/etc/ftpbridge", "/etc/systemd/system", "/opt/ftpbridge", "/var/lib/ftpbridge"):
        command = command.replace(system, str(inside(root, system + "/")).rstrip("/"))
    return command.replace("/path/to/ftpbridge", str(_CHECKOUT))


@pytest.fixture
def root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="ftpbridge-readme-"))
    inside(folder, "/etc/systemd/system/").mkdir(parents=True)  # there on any systemd machine
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def edit_config(config: Path, root: Path, port: int) -> None:
    """What "then edit it" means here: acme on the test FTP server, the state directory
    inside the sandbox. Everything else stays as config.example.toml ships it."""
    text = config.read_text(encoding="utf-8")
    assert 'state_dir = "/var/lib/ftpbridge"' in text
    text = text.replace('"/var/lib/ftpbridge"', f'"{inside(root, "/var/lib/ftpbridge/")}"')
    text = text.replace('"/etc/ftpbridge/', f'"{inside(root, "/etc/ftpbridge/")}/')
    text, count = re.subn(
        r'transport = "sftp".*?\nusername = "shop"\n',
        f'transport = "ftp"\nhost = "127.0.0.1"\nport = {port}\nusername = "shop"\n',
        text,
        flags=re.S,
    )
    assert count == 1, "config.example.toml's acme transport lines changed; update this edit"
    text = text.replace("settle_seconds = 30", "settle_seconds = 0")
    config.write_text(text, encoding="utf-8")


def test_readme_service_section_works_as_written(root: Path, tmp_path: Path) -> None:
    """Every line of the block, in order; the service starts, reads its password from the
    credentials folder, polls, and the admin's status reads that same store."""
    lines = service_block()
    home = tmp_path / "ftp"
    for folder in ("to-warehouse", "from-warehouse"):
        (home / folder).mkdir(parents=True)
    server = start_ftp_server(home, username="shop", password="the password")
    service = None
    installed_unit = inside(root, "/etc/systemd/system/ftpbridge.service")
    seen: list[str] = []
    try:
        for line in lines:
            command = sandboxed(root, line)
            seen.append(command.split()[0] if command else "")
            if command.startswith("cd "):
                assert command == f"cd {_CHECKOUT}"
            elif "-m venv " in command or "/pip install " in command:
                if "-m venv " in command:
                    link_venv(root)
            elif command == "systemctl daemon-reload":
                _verify_installed_unit(installed_unit, root)
            elif command == "systemctl enable --now ftpbridge":
                service = start_service(installed_unit, root=root)
                service.wait_ready()
            elif command.startswith("journalctl"):
                assert service is not None
                wait_for(service.log, "the service's first log line")
                for logged in service.log().splitlines():
                    json.loads(logged)  # JSON lines, one event each
            else:
                if command.endswith("status"):
                    assert service is not None
                    wait_for(
                        functools.partial(_polled, command),
                        "the service's first poll, seen by status",
                    )
                finished = subprocess.run(
                    ["bash", "-c", command],
                    cwd=_CHECKOUT,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert finished.returncode == 0, (line, finished.stdout, finished.stderr)
                if "config.example.toml" in command:
                    edit_config(inside(root, "/etc/ftpbridge/config.toml"), root, server.port)
        assert service is not None, "the block never starts the service"
        assert service.stop() == 0, service.log()
    finally:
        if service is not None:
            service.kill()
        server.stop()
    etc = inside(root, "/etc/ftpbridge")
    assert etc.stat().st_mode & 0o777 == 0o755
    assert (etc / "config.toml").stat().st_mode & 0o777 == 0o644
    assert (etc / "credentials").stat().st_mode & 0o777 == 0o700
    assert (etc / "credentials" / "acme-password").stat().st_mode & 0o777 == 0o600
    # The secret itself never shows (the plain-FTP warning names "the password" in words).
    assert re.findall(r"the password(?! and the files)", service.log()) == []
    assert server.stats.failed_logins == 0


def _polled(status_command: str) -> bool:
    finished = subprocess.run(
        ["bash", "-c", status_command], capture_output=True, text=True, timeout=120, check=False
    )
    return (
        finished.returncode == 0
        and "last poll:    never" not in finished.stdout.split("popup-store")[0]
    )


def _verify_installed_unit(unit: Path, root: Path) -> None:
    """``systemctl daemon-reload`` here: the installed unit must verify (its ExecStart= taken
    inside the sandbox, where the venv link is)."""
    assert unit.exists()
    assert SYSTEMD_ANALYZE is not None, "systemd-analyze is missing (apt-get install systemd)"
    copy = unit.parent / "verify" / unit.name
    copy.parent.mkdir()
    copy.write_text(
        unit.read_text(encoding="utf-8").replace(
            "/opt/ftpbridge/venv/bin/ftpbridge",
            str(inside(root, "/opt/ftpbridge/venv/bin/ftpbridge")),
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
