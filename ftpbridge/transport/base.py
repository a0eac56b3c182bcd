"""The transport protocol every backend (FTP, FTPS, SFTP, local directory) implements:
``Transport`` and its contract, ``RemoteFile``, ``ConnectionParams``, and ``move``, written
once against the protocol.

A transport moves bytes and lists directories; it knows nothing of CSV, settings or the
store. It is built from plain values (``ConnectionParams``), never from a config object.

Remote paths are POSIX-style strings (``"/inbox/archive"``). Names coming back from a
server are checked with ``is_safe_name`` (``transport.names``) before anyone can turn them
into a local path. Beside this module: ``names`` (safe names, remote paths, temporary
upload names), ``retries`` (transient errors retried with backoff) and ``bounds`` (a
transfer's bounds, ``TransferWatch``, and a download's local file, ``LocalSink``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import structlog

from ftpbridge.errors import TransportError

logger = structlog.get_logger()

# A transport attempt (connect, log in, one command and its answer) may take this many
# ``timeout``s before the job it belongs to counts as stuck (see ftpbridge.deadlines).
ATTEMPT_TIMEOUTS = 4
# A listing may hold this many bytes per entry allowed (names of 255 bytes and their facts
# fit in far less), so that an endless line cannot grow without an entry to count.
LISTING_BYTES_PER_ENTRY = 1024
LISTING_BYTES_MIN = 1 << 20


class CrossDirectoryRenameError(TransportError):
    """Raised when a server refuses to rename a file into another directory.

    Some servers keep directories on different file systems (or simply forbid it). The
    caller falls back to download + upload + delete (see ``move``). Not transient.
    """

    transient = False


@dataclass(frozen=True)
class RemoteFile:
    """One entry of a remote directory listing.

    ``name`` is the bare name (no directory), already checked with ``is_safe_name``.
    ``mtime`` is timezone-aware UTC, or None when the server cannot tell.
    """

    name: str
    size: int | None
    mtime: datetime | None
    is_dir: bool = False


@dataclass(frozen=True)
class ConnectionParams:
    """Plain values a transport is built from. Secrets never appear in ``repr``."""

    host: str = ""
    port: int | None = None
    username: str = ""
    password: str | None = field(default=None, repr=False)
    private_key: Path | None = None
    private_key_passphrase: str | None = field(default=None, repr=False)
    known_hosts: Path | None = None
    passive: bool = True
    timeout: float = 60.0
    ca_file: Path | None = None
    tls_verify: bool = True
    path: Path | None = None
    retries: int = 4
    min_rate_bytes: int = 10_000
    """The slowest transfer accepted after its first ``timeout`` seconds (TooSlowError)."""
    max_listing_entries: int = 50_000
    """A listing with more entries is refused (ListingTooLongError)."""

    @property
    def max_listing_bytes(self) -> int:
        """The most bytes a listing answer may take (endless lines count too)."""
        return max(LISTING_BYTES_MIN, self.max_listing_entries * LISTING_BYTES_PER_ENTRY)


class Transport(Protocol):
    """What every transport offers. Use it as a context manager: enter connects, exit closes.

    Errors are ``ftpbridge.errors.TransportError`` or one of its subclasses:
    ``AuthenticationError`` (never retried), ``HostKeyError``, ``TLSVerificationError``,
    ``RemotePermissionError``, ``RemoteNotFoundError``, and ``CrossDirectoryRenameError``.
    Transient errors (``error.transient``) are retried inside the transport with
    exponential backoff, ``params.retries`` attempts in all, reconnecting in between; what
    reaches the caller has already been retried.
    """

    kind: str
    """ "ftp", "ftps", "sftp" or "local"."""

    def describe(self) -> str:
        """Return where this transport points, e.g. ``sftp://user@host:2222``; never a secret."""
        ...

    def __enter__(self) -> Self:
        """Connect and log in. Raises AuthenticationError, HostKeyError, TransportError."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the connection; never raises."""
        ...

    def list(self, directory: str) -> list[RemoteFile]:
        """Return the entries of ``directory`` (no ``.``/``..``), in no particular order.

        Entries whose name fails ``is_safe_name`` are left out and logged as a warning.
        An empty directory gives ``[]``. Raises RemoteNotFoundError if it does not exist,
        and ListingTooLongError when it holds more than ``params.max_listing_entries``
        entries (or their answer more than ``params.max_listing_bytes``): the listing is
        read as a stream and never held beyond those bounds.
        """
        ...

    def download(self, remote_path: str, local_path: Path, *, max_bytes: int | None = None) -> int:
        """Copy ``remote_path`` to ``local_path`` and return the number of bytes written.

        ``local_path`` appears complete or not at all (temp file + ``os.replace``).
        Raises RemoteNotFoundError if the remote file does not exist, NotAFileError if it
        is not a regular file, TooLargeError when the size announced (at listing or open),
        or the bytes actually sent, pass ``max_bytes`` (the transfer stops at most one
        block past it, whatever the server says), and TooSlowError when the transfer falls
        behind ``params.min_rate_bytes`` after its first ``params.timeout`` seconds. None
        of these is retried.
        """
        ...

    def upload(self, local_path: Path, remote_path: str) -> None:
        """Copy ``local_path`` to ``remote_path`` atomically.

        The bytes go to a temporary name of this attempt's own first
        (``<dir>/.<name>.<random>.part``, see ``part_path``), which is then renamed onto
        the final name. An existing target is replaced where the server's rename replaces
        (POSIX servers, OpenSSH's posix-rename); a server that refuses gives
        TargetExistsError and the existing file is left alone. On failure the temporary
        file is removed (best effort), so a reader never sees a partial file under the
        final name, and two uploads of one name never write into the same file.
        """
        ...

    def rename(self, source: str, target: str) -> None:
        """Rename ``source`` to ``target``, replacing an existing target where the server
        does; never deleting it first (TargetExistsError where the server will not).

        Raises RemoteNotFoundError if ``source`` does not exist, and
        CrossDirectoryRenameError if the server refuses a move into another directory.
        """
        ...

    def delete(self, path: str) -> None:
        """Delete the file ``path``. Raises RemoteNotFoundError if it does not exist."""
        ...

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its missing parents; an existing directory is fine."""
        ...


def move(
    transport: Transport,
    source: str,
    target: str,
    scratch_directory: Path,
    *,
    max_bytes: int | None = None,
) -> None:
    """Move ``source`` to ``target``: rename, or copy then delete when renaming across
    directories is refused (``CrossDirectoryRenameError``).

    The copy goes through ``scratch_directory`` (a local directory) and an atomic upload,
    so ``target`` appears complete or not at all; ``source`` is deleted only afterwards.
    ``max_bytes`` bounds that copy (TooLargeError: then nothing is moved).
    """
    try:
        transport.rename(source, target)
    except CrossDirectoryRenameError:
        logger.info("rename across directories refused, copying instead", source=source)
        with tempfile.TemporaryDirectory(dir=scratch_directory) as scratch:
            local = Path(scratch) / "moving"
            transport.download(source, local, max_bytes=max_bytes)
            transport.upload(local, target)
        transport.delete(source)
