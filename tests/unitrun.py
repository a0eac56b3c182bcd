"""systemd/ftpbridge.service run the way systemd runs it, on a machine without systemd as
PID 1 (CI): its ExecStart= as an unprivileged user, with the unit's Environment=, its
StateDirectory= and ConfigurationDirectory= (with their modes), its LoadCredential= files
copied into a CREDENTIALS_DIRECTORY, UMask=, WorkingDirectory=/ (systemd's default), a
NOTIFY_SOCKET this side listens on, and WATCHDOG_USEC from WatchdogSec=.

Every absolute path of the unit (``/etc/ftpbridge``, ``/var/lib/ftpbridge``,
``/opt/ftpbridge/venv``) is taken inside a sandbox root folder, so that nothing on the
machine running the tests is touched; the test makes ``ROOT/opt/ftpbridge/venv`` a link to
the virtual environment it runs in.

    service = start_service(unit, root=root)
    service.wait_ready()          # READY=1 arrived on the notify socket
    assert service.stop() == 0    # SIGTERM, as systemctl stop sends it

Nothing here is a mock: the process is the real ``ftpbridge``, the socket a real AF_UNIX
datagram socket, the user a real unprivileged one (``nobody``).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_USER = "nobody"
# The paths of the unit that the sandbox root stands in for.
SANDBOXED = ("/etc/", "/var/lib/", "/opt/", "/run/")


@dataclass(frozen=True)
class Directive:
    section: str
    key: str
    value: str


def parse_unit(*paths: Path) -> list[Directive]:
    """The directives of a unit file and its drop-ins, in order (systemd's syntax: [Section],
    Key=Value, ``#`` or ``;`` comments; an empty value resets a list, which callers see)."""
    found: list[Directive] = []
    for path in paths:
        section = ""
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, separator, value = line.partition("=")
            if not separator:
                raise AssertionError(f"{path}: {raw!r} is neither a section, a comment nor K=V")
            found.append(Directive(section, key.strip(), value.strip()))
    return found


def values(directives: list[Directive], key: str, section: str = "Service") -> list[str]:
    """Every value of ``key`` in ``section``, an empty assignment resetting the list."""
    result: list[str] = []
    for directive in directives:
        if directive.section == section and directive.key == key:
            result = [] if directive.value == "" else [*result, directive.value]
    return result


def inside(root: Path, path: str) -> Path:
    """``path`` as seen inside the sandbox root (only the unit's system paths move)."""
    if path.startswith(SANDBOXED):
        return root / path.lstrip("/")
    return Path(path)


def _translate_word(root: Path, word: str) -> str:
    if word.startswith(SANDBOXED):
        return str(inside(root, word))
    if "=" in word:  # KEY=/etc/... in Environment=
        key, _, value = word.partition("=")
        if value.startswith(SANDBOXED):
            return f"{key}={inside(root, value)}"
    return word


@dataclass
class ServiceRun:
    """The started service: its process, its output file, the notify datagrams so far."""

    process: subprocess.Popen[bytes]
    notify: socket.socket
    output: Path
    credentials: Path
    state: Path
    messages: list[str] = field(default_factory=list)

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def wait_for_message(self, wanted: str, timeout: float = 60.0) -> None:
        """Receive notify datagrams until one holds the line ``wanted`` (e.g. READY=1);
        fail, showing the service's output, if it exits first or the time runs out."""
        deadline = time.monotonic() + timeout
        while not any(wanted in message.splitlines() for message in self.messages):
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the service exited with {self.process.returncode} before {wanted}:\n"
                    + self.log()
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {wanted} within {timeout} s:\n" + self.log())
            try:
                self.messages.append(self.notify.recv(4096).decode("utf-8", "replace"))
            except TimeoutError:
                continue

    def wait_ready(self, timeout: float = 60.0) -> None:
        self.wait_for_message("READY=1", timeout)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (what ``systemctl stop`` sends) and the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._drain()
            self.notify.close()

    def _drain(self) -> None:
        """Keep the datagrams the process sent before it exited (STOPPING=1)."""
        self.notify.setblocking(False)
        while True:
            try:
                self.messages.append(self.notify.recv(4096).decode("utf-8", "replace"))
            except (BlockingIOError, OSError):
                return

    def kill(self) -> None:
        """Teardown: SIGKILL if it still runs; the socket closed."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.notify.fileno() != -1:
            self.notify.close()


def _mode(directives: list[Directive], key: str, default: int) -> int:
    found = values(directives, key)
    return int(found[-1], 8) if found else default


def _load_credentials(
    directives: list[Directive], root: Path, target: Path, uid: int, gid: int
) -> None:
    """LoadCredential=ID:PATH as systemd does it: a file becomes credential ID; a directory
    gives every regular file in it as ID_FILENAME (symlinks ignored); a missing source
    makes systemd refuse to start the unit, so it fails here too."""
    target.mkdir(parents=True)
    for entry in values(directives, "LoadCredential"):
        identifier, _, source_text = entry.partition(":")
        source = inside(root, source_text or f"/etc/credstore/{identifier}")
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    shutil.copyfile(path, target / f"{identifier}_{path.name}")
        elif source.is_file():
            shutil.copyfile(source, target / identifier)
        else:
            raise AssertionError(
                f"LoadCredential={entry}: {source} does not exist; systemd would refuse to"
                " start the service"
            )
    for path in target.iterdir():
        os.chown(path, uid, gid)
        path.chmod(0o400)
    os.chown(target, uid, gid)
    target.chmod(0o500)


def _can_run(user: pwd.struct_passwd, program: str) -> bool:
    probe = subprocess.run(
        [
            "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            "--",
            program,
            "--version",
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    return probe.returncode == 0


CHECKOUT = Path(__file__).resolve().parent.parent


def _readable_package(root: Path) -> Path:
    """``ROOT/opt/ftpbridge/site``: the ftpbridge package of this checkout as ``pip install``
    lays it out (``schemas/`` and ``examples/`` inside it as ``_schemas``, ``_examples``),
    readable by every user; the folder to put on PYTHONPATH."""
    site = inside(root, "/opt/ftpbridge/site")
    if site.exists():
        return site
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    package = site / "ftpbridge"
    shutil.copytree(CHECKOUT / "ftpbridge", package, ignore=ignore)
    shutil.copytree(CHECKOUT / "schemas", package / "_schemas", ignore=ignore)
    shutil.copytree(CHECKOUT / "examples", package / "_examples", ignore=ignore)
    for path in (site, *site.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    for folder in (inside(root, "/opt"), inside(root, "/opt/ftpbridge")):
        folder.chmod(0o755)
    return site


def start_service(
    unit: Path,
    *,
    root: Path,
    dropins: tuple[Path, ...] = (),
    user: str = SERVICE_USER,
) -> ServiceRun:
    """Start the unit's ExecStart= inside ``root`` as ``user`` (see the module doc)."""
    directives = parse_unit(unit, *dropins)
    account = pwd.getpwnam(user)
    uid, gid = account.pw_uid, account.pw_gid
    root.chmod(0o755)

    [exec_start] = values(directives, "ExecStart")
    argv = [_translate_word(root, word) for word in shlex.split(exec_start.lstrip("-@:+!"))]
    environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for line in values(directives, "Environment"):
        for word in shlex.split(line):
            key, _, value = _translate_word(root, word).partition("=")
            environment[key] = value

    for name in values(directives, "ConfigurationDirectory"):
        folder = inside(root, f"/etc/{name}")
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(_mode(directives, "ConfigurationDirectoryMode", 0o755))
    states = []
    for name in values(directives, "StateDirectory"):
        folder = inside(root, f"/var/lib/{name}")
        folder.mkdir(parents=True, exist_ok=True)
        for path in (folder, *folder.rglob("*")):
            os.chown(path, uid, gid, follow_symlinks=False)
        folder.chmod(_mode(directives, "StateDirectoryMode", 0o755))
        states.append(folder)
    environment["STATE_DIRECTORY"] = ":".join(str(folder) for folder in states)

    runtime = inside(root, "/run/ftpbridge-test")
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o755)
    credentials = runtime / "credentials"
    _load_credentials(directives, root, credentials, uid, gid)
    environment["CREDENTIALS_DIRECTORY"] = str(credentials)

    notify_path = runtime / "notify"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify_path.chmod(0o777)  # systemd's socket accepts the service's datagrams
    notify.settimeout(0.5)
    environment["NOTIFY_SOCKET"] = str(notify_path)
    watchdog = values(directives, "WatchdogSec")
    if watchdog:
        environment["WATCHDOG_USEC"] = str(int(float(watchdog[-1]) * 1_000_000))

    setpriv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    if not _can_run(account, argv[0]):
        # The checkout (an editable install) sits in a folder other users cannot read, as
        # on a CI machine building under /root: the service user may read (only read)
        # anything, the way an installed /opt/ftpbridge/venv would be readable. It still
        # writes nowhere but where the unit lets it.
        setpriv += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        # access(2) ignores capabilities for a user other than root, and Alembic asks it
        # whether its migrations folder exists: ftpbridge itself is read from a copy in
        # the sandbox (laid out as an installed package), its libraries from the venv.
        environment["PYTHONPATH"] = str(_readable_package(root))
    umask = _mode(directives, "UMask", 0o022)
    output = runtime / "output.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            [*setpriv, "--", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd="/",
            env=environment,
            preexec_fn=lambda: os.umask(umask),
        )
    return ServiceRun(process, notify, output, credentials, states[0] if states else root)


def link_venv(root: Path) -> None:
    """``ROOT/opt/ftpbridge/venv``: the virtual environment these tests run in (ftpbridge
    installed from this checkout), where the unit expects the one the README installs."""
    venv = inside(root, "/opt/ftpbridge/venv")
    venv.parent.mkdir(parents=True, exist_ok=True)
    venv.symlink_to(Path(sys.executable).parent.parent)
