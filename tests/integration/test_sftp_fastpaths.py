"""The SFTP fast paths over paramiko internals and the public API they fall back to: the one
capability check at connect time, and both paths against a real OpenSSH sshd.

The fallback is forced the way a future paramiko would force it: the check is told about
one more internal that this paramiko does not have, or paramiko's buffer is changed so
that ours no longer agrees with it. Nothing of the transfers is replaced."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from paramiko.buffered_pipe import BufferedPipe
from structlog.testing import capture_logs

from ftpbridge.errors import TransportError
from ftpbridge.transport import open_transport
from ftpbridge.transport.progress import Transfer, observing
from ftpbridge.transport.sftp import fastpaths
from ftpbridge.transport.sftp.receive_buffer import ChunkedPipe
from tests.servers import SSHServer

MISSING_EVENT = "paramiko internals missing or changed: using its public API (slower)"


@pytest.fixture
def public_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A paramiko without one internal the fast paths need (as a future release may be)."""
    monkeypatch.setattr(
        fastpaths,
        "_METHODS",
        (*fastpaths._METHODS, (paramiko.SFTPClient, "_an_internal_gone_in_a_future_release")),
    )


@pytest.fixture
def folder(sshd_server: SSHServer, request: pytest.FixtureRequest) -> Iterator[tuple[Path, str]]:
    """A folder of the test's own on the server: (its path on disk, its remote path)."""
    name = "fastpaths-" + request.node.name.replace("[", "-").replace("]", "")
    disk = sshd_server.upload_dir / name
    disk.mkdir()
    sshd_server.chown_to_user(disk)
    yield disk, f"{sshd_server.remote_root}/{name}"


class _Counts:
    """A transfer observer keeping the byte counts told, per direction."""

    def __init__(self) -> None:
        self.told: dict[str, list[int]] = {"upload": [], "download": []}

    def advance(self, transfer: Transfer, done: int) -> None:
        self.told[transfer.direction].append(done)

    def end(self, transfer: Transfer) -> None:
        pass


def _round_trip(sshd_server: SSHServer, folder: tuple[Path, str], tmp_path: Path) -> bool:
    """Upload, list, download and rename a 5 MB file; check every byte, and the progress
    told of both transfers; return which paths the session used."""
    disk, remote = folder
    content = os.urandom(5_000_000)
    local = tmp_path / "up.bin"
    local.write_bytes(content)
    counts = _Counts()
    with open_transport("sftp", sshd_server.params()) as transport, observing(counts):
        transport.upload(local, f"{remote}/a.bin")
        listed = {entry.name: entry.size for entry in transport.list(remote)}
        written = transport.download(f"{remote}/a.bin", tmp_path / "down.bin")
        transport.rename(f"{remote}/a.bin", f"{remote}/b.bin")
        fast = transport._session.paths.fast  # type: ignore[attr-defined]  # the session's
    assert listed == {"a.bin": len(content)}
    assert written == len(content)
    assert (tmp_path / "down.bin").read_bytes() == content
    assert (disk / "b.bin").read_bytes() == content
    assert sorted(path.name for path in disk.iterdir()) == ["b.bin"]
    for told in counts.told.values():
        assert len(told) > 1 and told == sorted(set(told)) and told[-1] == len(content)
    return fast


def test_this_paramiko_has_every_internal_and_the_fast_paths_are_used(
    sshd_server: SSHServer, folder: tuple[Path, str], tmp_path: Path
) -> None:
    """With the paramiko pyproject allows, the check finds everything: fast paths, and the
    bytes arrive whole both ways."""
    with capture_logs() as logs:
        assert _round_trip(sshd_server, folder, tmp_path) is True
    assert not [log for log in logs if log["event"] == MISSING_EVENT]


@pytest.mark.usefixtures("public_only")
def test_a_missing_internal_falls_back_to_the_public_api(
    sshd_server: SSHServer, folder: tuple[Path, str], tmp_path: Path
) -> None:
    """One internal missing: the session uses paramiko's public API (prefetch and read,
    putfo, listdir_attr) and every operation still gives the same bytes; the log says what
    was missing."""
    with capture_logs() as logs:
        assert _round_trip(sshd_server, folder, tmp_path) is False
    [event] = [log for log in logs if log["event"] == MISSING_EVENT]
    assert event["missing"] == ["SFTPClient._an_internal_gone_in_a_future_release"]


def test_a_paramiko_buffer_that_changed_fails_the_trial_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A paramiko whose BufferedPipe reads its storage differently (here: through an array
    method our buffer does not have) fails the check's trial run, so the session would keep
    paramiko's own buffer and use the public paths."""

    def read_with_tobytes(
        pipe: BufferedPipe[bytes], nbytes: int, timeout: float | None = None
    ) -> bytes:
        with pipe._lock:  # type: ignore[attr-defined]  # paramiko's own lock, as read uses it
            out: bytes = pipe._buffer.tobytes()[:nbytes]  # type: ignore[attr-defined]
            del pipe._buffer[:nbytes]  # type: ignore[attr-defined]
            return out

    assert fastpaths.missing_internals(paramiko.Channel(0)) == []
    monkeypatch.setattr(BufferedPipe, "read", read_with_tobytes)
    assert fastpaths.missing_internals(paramiko.Channel(0)) == [
        "BufferedPipe._buffer (behaves differently)"
    ]


@pytest.mark.parametrize(("owner", "name"), [(owner, name) for owner, name in fastpaths._METHODS])
def test_the_check_looks_up_every_internal(
    owner: type, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each internal the fast paths use is looked up: without it, the check names it."""
    monkeypatch.delattr(owner, name)
    assert f"{owner.__name__}.{name}" in fastpaths.missing_internals(paramiko.Channel(0))


def test_the_check_looks_at_the_channel_buffer() -> None:
    """A channel without paramiko's BufferedPipe as in_buffer gets no fast receive buffer."""
    channel = paramiko.Channel(0)
    assert fastpaths.missing_internals(channel) == []
    channel.in_buffer = ChunkedPipe()
    assert fastpaths.missing_internals(channel) == []
    del channel.in_buffer
    assert fastpaths.missing_internals(channel) == ["Channel.in_buffer"]


def _undecodable_folder(sshd_server: SSHServer, folder: tuple[Path, str]) -> str:
    """Put a good file and one whose name is not UTF-8 (Latin-1 'é') in the folder."""
    disk, remote = folder
    (disk / "good_updated_1.csv").write_bytes(b"x")
    bad = os.path.join(os.fsencode(disk), b"caf\xe9_updated.csv")
    with open(bad, "wb") as handle:
        handle.write(b"y")
    for path in (disk / "good_updated_1.csv", Path(os.fsdecode(bad))):
        sshd_server.chown_to_user(path)
    return remote


def test_fast_listing_keeps_the_other_files_when_a_name_is_not_utf8(
    sshd_server: SSHServer, folder: tuple[Path, str]
) -> None:
    """Fast path: the undecodable name is skipped as unsafe (with a warning), the good
    file is listed."""
    remote = _undecodable_folder(sshd_server, folder)
    with capture_logs() as logs, open_transport("sftp", sshd_server.params()) as transport:
        names = [entry.name for entry in transport.list(remote)]
    assert names == ["good_updated_1.csv"]
    assert any(log["event"] == "unsafe remote name skipped" for log in logs)


@pytest.mark.usefixtures("public_only")
def test_public_listing_says_clearly_it_cannot_read_a_name_that_is_not_utf8(
    sshd_server: SSHServer, folder: tuple[Path, str]
) -> None:
    """Public path: paramiko's listdir_attr cannot decode the name; the error names the
    folder and what to do, and is not retried."""
    remote = _undecodable_folder(sshd_server, folder)
    with (
        pytest.raises(TransportError) as caught,
        open_transport("sftp", sshd_server.params()) as transport,
    ):
        transport.list(remote)
    assert f"cannot list {remote!r}: a file name there is not UTF-8" in caught.value.message
    assert caught.value.hint == "ask the partner to rename that file (only UTF-8 names can be read)"
    assert caught.value.transient is False
