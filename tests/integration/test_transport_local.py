"""The local-directory transport's own rules: it never leaves its root."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftpbridge.errors import RemoteNotFoundError, RemotePermissionError
from ftpbridge.transport import ConnectionParams, open_transport


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root directory with a secret file next to it (outside)."""
    (tmp_path / "secret.txt").write_text("outside")
    directory = tmp_path / "root"
    directory.mkdir()
    return directory


@pytest.mark.parametrize("path", ["../secret.txt", "/../secret.txt", "a/../../secret.txt"])
def test_paths_cannot_escape_the_root(root: Path, tmp_path: Path, path: str) -> None:
    """'..' components that climb out of the root are refused for every operation."""
    with open_transport("local", ConnectionParams(path=root)) as transport:
        with pytest.raises(RemotePermissionError):
            transport.download(path, tmp_path / "stolen.txt")
        with pytest.raises(RemotePermissionError):
            transport.delete(path)
        with pytest.raises(RemotePermissionError):
            transport.upload(tmp_path / "secret.txt", path)
    assert (tmp_path / "secret.txt").read_text() == "outside"
    assert not (tmp_path / "stolen.txt").exists()


def test_a_symlink_out_of_the_root_is_refused(root: Path, tmp_path: Path) -> None:
    """A symlink inside the root pointing outside does not open a way out."""
    (root / "link").symlink_to(tmp_path)
    with open_transport("local", ConnectionParams(path=root)) as transport:
        with pytest.raises(RemotePermissionError):
            transport.download("/link/secret.txt", tmp_path / "stolen.txt")


def test_a_missing_root_is_reported_on_connect(tmp_path: Path) -> None:
    """Entering a local transport whose directory does not exist raises RemoteNotFoundError."""
    with (
        pytest.raises(RemoteNotFoundError),
        open_transport("local", ConnectionParams(path=tmp_path / "absent")),
    ):
        pass


def test_absolute_remote_paths_are_relative_to_the_root(root: Path, tmp_path: Path) -> None:
    """'/inbox/a.csv' means <root>/inbox/a.csv, not the machine's /inbox."""
    local = tmp_path / "a.csv"
    local.write_bytes(b"a")
    with open_transport("local", ConnectionParams(path=root)) as transport:
        transport.makedirs("/inbox")
        transport.upload(local, "/inbox/a.csv")
        assert transport.describe() == f"local://{root}"
    assert (root / "inbox" / "a.csv").read_bytes() == b"a"
