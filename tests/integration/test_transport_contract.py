"""The transport contract (ftpbridge/transport/base.py), run against every transport:
local, FTP, FTP without MLSD, FTPS and SFTP, each on a real server."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from ftpbridge.errors import (
    ListingTooLongError,
    RemoteNotFoundError,
    RemotePermissionError,
    TooLargeError,
    TransportError,
)
from ftpbridge.transport import is_partial_upload, move
from ftpbridge.transport.progress import Transfer, observing
from tests.servers import FTP_PASSWORD, SFTP_PASSWORD, TransportCase


def _names(entries: list) -> set[str]:
    return {entry.name for entry in entries}


def test_list_reports_name_size_mtime_and_directories(transport_case: TransportCase) -> None:
    """list() gives each entry's bare name, byte size, UTC mtime and whether it is a directory."""
    when = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    path = transport_case.put("orders-1.csv", b"a,b\n1,2\n")
    os.utime(path, (when.timestamp(), when.timestamp()))
    (transport_case.disk / "archive").mkdir()
    transport_case.give(transport_case.disk / "archive")
    with transport_case.open() as transport:
        entries = {entry.name: entry for entry in transport.list(transport_case.directory)}
    assert set(entries) == {"orders-1.csv", "archive"}
    orders = entries["orders-1.csv"]
    assert orders.size == 8
    assert orders.is_dir is False
    assert orders.mtime == when
    assert orders.mtime is not None and orders.mtime.utcoffset() == timedelta(0)
    assert entries["archive"].is_dir is True


def test_list_of_an_empty_directory_is_empty(transport_case: TransportCase) -> None:
    """An empty directory lists as [], not as an error."""
    with transport_case.open() as transport:
        assert transport.list(transport_case.directory) == []


def test_list_of_a_missing_directory_raises_not_found(transport_case: TransportCase) -> None:
    """Listing a directory that does not exist raises RemoteNotFoundError."""
    with transport_case.open() as transport, pytest.raises(RemoteNotFoundError):
        transport.list(transport_case.remote("missing"))


def test_upload_writes_the_bytes_under_the_final_name_only(
    transport_case: TransportCase, tmp_path: Path
) -> None:
    """upload() leaves exactly the final file with the same bytes, and no .part file."""
    content = os.urandom(700_000)
    local = tmp_path / "out.csv"
    local.write_bytes(content)
    with transport_case.open() as transport:
        transport.upload(local, transport_case.remote("out.csv"))
        listed = transport.list(transport_case.directory)
    assert (transport_case.disk / "out.csv").read_bytes() == content
    assert sorted(os.listdir(transport_case.disk)) == ["out.csv"]
    assert [(entry.name, entry.size) for entry in listed] == [("out.csv", len(content))]


def test_upload_replaces_an_existing_file(transport_case: TransportCase, tmp_path: Path) -> None:
    """Uploading onto an existing name replaces its content."""
    transport_case.put("out.csv", b"old content that is longer")
    local = tmp_path / "out.csv"
    local.write_bytes(b"new")
    with transport_case.open() as transport:
        transport.upload(local, transport_case.remote("out.csv"))
    assert (transport_case.disk / "out.csv").read_bytes() == b"new"
    assert sorted(os.listdir(transport_case.disk)) == ["out.csv"]


def test_failed_upload_leaves_no_partial_file(
    transport_case: TransportCase, tmp_path: Path
) -> None:
    """An upload into a missing directory fails and leaves no file behind."""
    local = tmp_path / "out.csv"
    local.write_bytes(b"x" * 1000)
    with transport_case.open(retries=1) as transport, pytest.raises(TransportError):
        transport.upload(local, transport_case.remote("missing/out.csv"))
    assert os.listdir(transport_case.disk) == []


def test_download_returns_the_bytes_and_their_count(
    transport_case: TransportCase, tmp_path: Path
) -> None:
    """download() writes the remote bytes to the local path and returns how many."""
    content = os.urandom(1_300_000)
    transport_case.put("in.csv", content)
    local = tmp_path / "sub" / "in.csv"
    with transport_case.open() as transport:
        written = transport.download(transport_case.remote("in.csv"), local)
    assert written == len(content)
    assert local.read_bytes() == content
    assert os.listdir(local.parent) == ["in.csv"]  # no temporary file left


def test_download_of_a_missing_file_raises_and_leaves_nothing(
    transport_case: TransportCase, tmp_path: Path
) -> None:
    """A missing remote file raises a non-transient error and creates no local file."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with transport_case.open() as transport, pytest.raises(TransportError) as caught:
        transport.download(transport_case.remote("missing.csv"), downloads / "in.csv")
    assert isinstance(caught.value, RemoteNotFoundError | RemotePermissionError)
    assert caught.value.transient is False
    assert list(downloads.iterdir()) == []


def test_rename_within_and_across_directories(transport_case: TransportCase) -> None:
    """rename() moves a file in its directory, into a subdirectory, and onto an existing name."""
    transport_case.put("a.csv", b"A")
    transport_case.put("b.csv", b"B")
    (transport_case.disk / "archive").mkdir()
    transport_case.give(transport_case.disk / "archive")
    with transport_case.open() as transport:
        transport.rename(transport_case.remote("a.csv"), transport_case.remote("a2.csv"))
        transport.rename(transport_case.remote("a2.csv"), transport_case.remote("archive/a.csv"))
        transport.rename(transport_case.remote("b.csv"), transport_case.remote("archive/a.csv"))
        assert _names(transport.list(transport_case.directory)) == {"archive"}
    assert (transport_case.disk / "archive" / "a.csv").read_bytes() == b"B"


def test_rename_of_a_missing_file_raises_not_found(transport_case: TransportCase) -> None:
    """Renaming a file that does not exist raises RemoteNotFoundError."""
    with transport_case.open() as transport, pytest.raises(RemoteNotFoundError):
        transport.rename(transport_case.remote("nope.csv"), transport_case.remote("x.csv"))


def test_move_helper_moves_a_file(transport_case: TransportCase, tmp_path: Path) -> None:
    """move() moves a file into another directory (by rename where the server allows)."""
    transport_case.put("a.csv", b"A" * 5000)
    with transport_case.open() as transport:
        transport.makedirs(transport_case.remote("done"))
        move(
            transport, transport_case.remote("a.csv"), transport_case.remote("done/a.csv"), tmp_path
        )
    assert (transport_case.disk / "done" / "a.csv").read_bytes() == b"A" * 5000
    assert not (transport_case.disk / "a.csv").exists()


def test_delete_removes_the_file(transport_case: TransportCase) -> None:
    """delete() removes a file; deleting it again raises RemoteNotFoundError."""
    transport_case.put("gone.csv", b"x")
    with transport_case.open() as transport:
        transport.delete(transport_case.remote("gone.csv"))
        assert transport.list(transport_case.directory) == []
        with pytest.raises(RemoteNotFoundError):
            transport.delete(transport_case.remote("gone.csv"))


def test_makedirs_is_idempotent(transport_case: TransportCase) -> None:
    """makedirs() creates missing parents and accepts an existing directory."""
    with transport_case.open() as transport:
        transport.makedirs(transport_case.remote("a/b/c"))
        transport.makedirs(transport_case.remote("a/b/c"))
        transport.makedirs(transport_case.remote("a"))
        entries = transport.list(transport_case.remote("a/b"))
    assert [(entry.name, entry.is_dir) for entry in entries] == [("c", True)]
    assert (transport_case.disk / "a" / "b" / "c").is_dir()


HOSTILE_ON_DISK = [
    "new\nline.csv",
    "carriage\rreturn.csv",
    "tab\tand\x7fdel.csv",
    "back\\slash.csv",
    "..dots.csv",
    "line\u2028separator.csv",
]


def test_hostile_names_are_skipped_with_a_warning(transport_case: TransportCase) -> None:
    """Names with control characters, backslashes or '..' never reach the caller; each is logged."""
    transport_case.put("good.csv", b"ok")
    for name in HOSTILE_ON_DISK:
        transport_case.put(name, b"evil")
    try:  # most file systems refuse names over 255 bytes; where one allows it, it must be skipped
        transport_case.put("x" * 300, b"long")
    except OSError:
        pass
    with capture_logs() as logs, transport_case.open() as transport:
        entries = transport.list(transport_case.directory)
    assert _names(entries) == {"good.csv"}
    skipped = [log for log in logs if log["event"] == "unsafe remote name skipped"]
    assert len(skipped) >= len(HOSTILE_ON_DISK)
    assert all(log["log_level"] == "warning" for log in skipped)


def test_describe_names_the_server_and_never_the_password(transport_case: TransportCase) -> None:
    """describe() says kind and place; repr(params) and describe() never show the password."""
    transport = transport_case.open()
    description = transport.describe()
    assert description.startswith(f"{transport_case.kind}:")
    for secret in (FTP_PASSWORD, SFTP_PASSWORD):
        assert secret not in description
        assert secret not in repr(transport_case.params)


def test_partial_upload_names_are_recognisable(
    transport_case: TransportCase, tmp_path: Path
) -> None:
    """The temporary name of an upload is '.<name>.part', which is_partial_upload() spots."""
    transport_case.put(".out.csv.part", b"left by a crash")
    with transport_case.open() as transport:
        names = _names(transport.list(transport_case.directory))
    assert names == {".out.csv.part"}
    assert all(is_partial_upload(name) for name in names)
    assert not is_partial_upload("out.csv")


# --------------------------------------------------------------------------- issue 12


def test_download_over_max_bytes_is_refused_and_nothing_is_kept(
    transport_case: TransportCase, tmp_path: Path
) -> None:
    """download(max_bytes=...) of a larger file raises TooLargeError (not retried: one
    transfer at most) naming the limit; no local file, no temporary file is left."""
    transport_case.put("big.csv", b"x" * 300_000)
    target = tmp_path / "staging" / "big.csv"
    with transport_case.open() as transport, pytest.raises(TooLargeError) as caught:
        transport.download(transport_case.remote("big.csv"), target, max_bytes=100_000)
    assert caught.value.transient is False
    assert caught.value.limit == 100_000
    assert caught.value.size > 100_000
    assert not target.parent.exists() or os.listdir(target.parent) == []


def test_download_within_max_bytes_works(transport_case: TransportCase, tmp_path: Path) -> None:
    """A file of exactly max_bytes is downloaded whole."""
    transport_case.put("exact.csv", b"y" * 100_000)
    target = tmp_path / "exact.csv"
    with transport_case.open() as transport:
        assert transport.download(transport_case.remote("exact.csv"), target, max_bytes=100_000)
    assert target.read_bytes() == b"y" * 100_000


def test_listing_over_max_listing_entries_is_refused(transport_case: TransportCase) -> None:
    """A folder with more entries than max_listing_entries: ListingTooLongError (not
    retried), naming the setting; at the bound itself the listing works."""
    for number in range(30):
        transport_case.put(f"f{number:02d}.csv", b"")
    with transport_case.open(max_listing_entries=30) as transport:
        assert len(transport.list(transport_case.directory)) == 30
    with (
        transport_case.open(max_listing_entries=29) as transport,
        pytest.raises(ListingTooLongError) as caught,
    ):
        transport.list(transport_case.directory)
    assert caught.value.transient is False
    assert "max_listing_entries" in caught.value.message


def test_two_uploads_of_one_name_never_share_a_temporary_file(
    transport_case: TransportCase, tmp_path: Path
) -> None:
    """Each upload attempt writes a temporary name of its own: a second upload of the same
    name, started while the first one's temporary file is there, leaves that file alone;
    both end under the final name, one after the other, complete."""
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_bytes(b"1" * 50_000)
    second.write_bytes(b"2" * 60_000)
    squatter = transport_case.put(".out.csv.part", b"someone else's upload in progress")
    with transport_case.open() as transport:
        transport.upload(first, transport_case.remote("out.csv"))
        assert (transport_case.disk / "out.csv").read_bytes() == first.read_bytes()
        transport.upload(second, transport_case.remote("out.csv"))
    assert (transport_case.disk / "out.csv").read_bytes() == second.read_bytes()
    assert squatter.read_bytes() == b"someone else's upload in progress"
    assert sorted(os.listdir(transport_case.disk)) == [".out.csv.part", "out.csv"]


class _Recorder:
    """A transfer observer that keeps what it is told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, Transfer, int | None]] = []

    def advance(self, transfer: Transfer, done: int) -> None:
        self.told.append(("advance", transfer, done))

    def end(self, transfer: Transfer) -> None:
        self.told.append(("end", transfer, None))


def _one_transfer(recorder: _Recorder) -> tuple[Transfer, list[int]]:
    """The one transfer told of, and the byte counts it was told, checking it ended once."""
    transfers = {id(transfer): transfer for _, transfer, _ in recorder.told}
    assert len(transfers) == 1
    assert [kind for kind, _, _ in recorder.told][-1] == "end"
    assert [kind for kind, _, _ in recorder.told].count("end") == 1
    counts = [done for kind, _, done in recorder.told if kind == "advance"]
    return next(iter(transfers.values())), [count for count in counts if count is not None]


def test_transfers_tell_the_observer_each_block_up_to_the_size(
    transport_case: TransportCase, tmp_path: Path
) -> None:
    """With an observer set (``transport.progress.observing``), an upload and a download
    tell it their name, direction, size and the bytes moved after each block, growing to
    the file's size, then their end; once it is unset, it is told nothing more."""
    content = os.urandom(3_000_000)
    local = tmp_path / "big.csv"
    local.write_bytes(content)
    upload, download = _Recorder(), _Recorder()
    with transport_case.open() as transport:
        with observing(upload):
            transport.upload(local, transport_case.remote("big.csv"))
        with observing(download):
            transport.download(transport_case.remote("big.csv"), tmp_path / "back.csv")
        told = len(upload.told) + len(download.told)
        transport.upload(local, transport_case.remote("again.csv"))  # none set any more
        transport.download(transport_case.remote("again.csv"), tmp_path / "again.csv")
    assert len(upload.told) + len(download.told) == told
    assert (tmp_path / "back.csv").read_bytes() == content
    for recorder, direction in ((upload, "upload"), (download, "download")):
        transfer, counts = _one_transfer(recorder)
        assert (transfer.direction, transfer.name, transfer.size) == (
            direction,
            "big.csv",
            len(content),
        )
        assert len(counts) >= 3  # block by block
        assert counts == sorted(set(counts)) and counts[0] > 0
        assert counts[-1] == len(content)
