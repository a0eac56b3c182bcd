"""ftpbridge.sdnotify against real AF_UNIX datagram sockets standing in for systemd."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from ftpbridge import sdnotify


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test outside systemd, with no warning already given."""
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sdnotify, "_warned", set())


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A temporary directory with a short path: AF_UNIX paths are limited to 107 bytes."""
    directory = Path(tempfile.mkdtemp(prefix="sdn-"))
    yield directory
    shutil.rmtree(directory)


@pytest.fixture
def systemd_socket(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket bound at a path and named by $NOTIFY_SOCKET, as systemd does."""
    path = short_dir / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield server


def _no_more_datagrams(server: socket.socket) -> bool:
    server.settimeout(0.05)
    try:
        server.recv(4096)
    except TimeoutError:
        return True
    return False


def test_ready_stopping_watchdog_send_their_exact_datagrams(
    systemd_socket: socket.socket,
) -> None:
    """Each helper sends one datagram with exactly its assignment, and returns True."""
    assert sdnotify.ready() is True
    assert sdnotify.watchdog() is True
    assert sdnotify.stopping() is True
    received = [systemd_socket.recv(4096) for _ in range(3)]
    assert received == [b"READY=1", b"WATCHDOG=1", b"STOPPING=1"]
    assert _no_more_datagrams(systemd_socket)


def test_status_sends_one_line_even_when_given_several(systemd_socket: socket.socket) -> None:
    """status() sends STATUS=<text>; line breaks become spaces so they cannot end it early."""
    assert sdnotify.status("acme: polling") is True
    assert sdnotify.status("acme: 2 files\nglobex: idle\r\n") is True
    assert systemd_socket.recv(4096) == b"STATUS=acme: polling"
    assert systemd_socket.recv(4096) == b"STATUS=acme: 2 files globex: idle"


def test_notify_sends_multi_line_messages_as_one_utf8_datagram(
    systemd_socket: socket.socket,
) -> None:
    """notify() passes its message through unchanged, UTF-8 encoded, in a single datagram."""
    assert sdnotify.notify("READY=1\nSTATUS=Zürich warehouse ready") is True
    assert systemd_socket.recv(4096) == "READY=1\nSTATUS=Zürich warehouse ready".encode()


def test_reloading_sends_reloading_and_the_monotonic_clock(systemd_socket: socket.socket) -> None:
    """reloading() sends RELOADING=1 and MONOTONIC_USEC taken from CLOCK_MONOTONIC."""
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert sdnotify.reloading() is True
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    first, second = systemd_socket.recv(4096).decode().split("\n")
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after


def test_abstract_namespace_socket_is_reached_through_a_leading_at(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NOTIFY_SOCKET=@name means the abstract socket "\\0name", not a file called @name."""
    name = f"ftpbridge-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.ready() is True
        assert server.recv(4096) == b"READY=1"


def test_outside_systemd_nothing_is_sent_and_nothing_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without $NOTIFY_SOCKET (or with it empty) every helper returns False quietly."""
    with capture_logs() as logs:
        assert sdnotify.ready() is False
        assert sdnotify.watchdog() is False
        assert sdnotify.status("x") is False
        monkeypatch.setenv("NOTIFY_SOCKET", "")
        assert sdnotify.stopping() is False
    assert logs == []


def test_missing_socket_returns_false_and_warns_once(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket that is gone does not raise; the first failure is logged, later ones not."""
    missing = short_dir / "gone"
    monkeypatch.setenv("NOTIFY_SOCKET", str(missing))
    with capture_logs() as logs:
        assert sdnotify.watchdog() is False
        assert sdnotify.watchdog() is False
        assert sdnotify.ready() is False
    assert len(logs) == 1
    (warning,) = logs
    assert warning["log_level"] == "warning"
    assert warning["notify_socket"] == str(missing)
    assert "FileNotFoundError" in warning["reason"]


def test_socket_that_stops_listening_is_reported_without_raising(
    systemd_socket: socket.socket,
) -> None:
    """If systemd's socket goes away after a successful send, the next send returns False."""
    assert sdnotify.ready() is True
    address = systemd_socket.getsockname()
    systemd_socket.close()
    os.unlink(address)
    with capture_logs() as logs:
        assert sdnotify.watchdog() is False
    assert [log["log_level"] for log in logs] == ["warning"]


def test_unsupported_address_is_refused_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """An address that is neither a path nor @abstract (e.g. vsock:) returns False, warns."""
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:9999")
    with capture_logs() as logs:
        assert sdnotify.ready() is False
    (warning,) = logs
    assert warning["notify_socket"] == "vsock:2:9999"
    assert "unsupported" in warning["reason"]


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("120000000", None, 60.0),  # WatchdogSec=120 -> ping every 60 s
        ("3000000", "self", 1.5),  # WATCHDOG_PID is us
        ("120000000", "other", None),  # inherited from a parent: not our watchdog
        (None, None, None),  # no WatchdogSec=
        ("0", None, None),
        ("-5", None, None),
        ("soon", None, None),
        ("120000000", "not-a-pid", None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec_for_our_pid(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None
) -> None:
    """watchdog_interval() = WATCHDOG_USEC / 2 in seconds, or None when it is not ours/valid."""
    if usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid == "self":
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    elif pid == "other":
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    elif pid is not None:
        monkeypatch.setenv("WATCHDOG_PID", pid)
    assert sdnotify.watchdog_interval() == expected
