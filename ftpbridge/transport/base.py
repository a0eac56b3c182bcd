"""The transport protocol every backend (FTP, FTPS, SFTP, local directory) implements.

A transport moves bytes and lists directories; it knows nothing of CSV, settings or the
store. It is built from plain values (``ConnectionParams``), never from a config object.

Remote paths are POSIX-style strings (``"/inbox/archive"``). Names coming back from a
server are checked with ``is_safe_name`` before anyone can turn them into a local path.
"""

from __future__ import annotations

import posixpath
import secrets
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TypeVar

import structlog
import tenacity

from ftpbridge import deadlines
from ftpbridge.durable import fitted_name
from ftpbridge.errors import LocalFileError, TooLargeError, TooSlowError, TransportError
from ftpbridge.transport.progress import (
    Transfer,
    TransferObserver,
    current_observer,
    transfer_of,
)

logger = structlog.get_logger()

MAX_NAME_BYTES = 255
PART_PREFIX = "."
PART_SUFFIX = ".part"
# A transport attempt (connect, log in, one command and its answer) may take this many
# ``timeout``s before the job it belongs to counts as stuck (see ftpbridge.deadlines).
ATTEMPT_TIMEOUTS = 4
# A listing may hold this many bytes per entry allowed (names of 255 bytes and their facts
# fit in far less), so that an endless line cannot grow without an entry to count.
LISTING_BYTES_PER_ENTRY = 1024
LISTING_BYTES_MIN = 1 << 20

# Exponential backoff between attempts for transient errors: 0.5 s, 1 s, 2 s ... capped.
RETRY_WAIT_INITIAL = 0.5
RETRY_WAIT_MAX = 30.0

T = TypeVar("T")


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


def is_safe_name(name: str) -> bool:
    """Return True if ``name`` can safely become one component of a local path.

    Refused: the empty name, ``.``, anything containing ``..``, ``/`` or ``\\``, control
    characters (NUL, newline, carriage return, DEL, C1) and Unicode line/paragraph
    separators, text that cannot be encoded as UTF-8 (undecodable bytes), and names longer
    than 255 UTF-8 bytes. Order files never need any of these.
    """
    if not name or name == "." or ".." in name or "/" in name or "\\" in name:
        return False
    for character in name:
        if unicodedata.category(character) in ("Cc", "Zl", "Zp", "Cs"):
            return False
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return len(encoded) <= MAX_NAME_BYTES


def safe_entries(entries: list[RemoteFile], *, directory: str, transport: str) -> list[RemoteFile]:
    """Return ``entries`` without those whose names fail ``is_safe_name``; log each one left out."""
    kept = []
    for entry in entries:
        if is_safe_name(entry.name):
            kept.append(entry)
        else:
            logger.warning(
                "unsafe remote name skipped",
                transport=transport,
                directory=directory,
                name=repr(entry.name)[:300],
            )
    return kept


def remote_join(directory: str, name: str) -> str:
    """Return the POSIX remote path of ``name`` inside ``directory``.

    ``remote_join("/inbox", "a.csv") == "/inbox/a.csv"``; ``remote_join("", "a.csv") ==
    "a.csv"``. Raises ValueError if ``name`` is not a safe bare name.
    """
    if not is_safe_name(name):
        raise ValueError(f"not a safe file name: {name!r}")
    if not directory:
        return name
    return directory.rstrip("/") + "/" + name if directory != "/" else "/" + name


def split_remote(path: str) -> tuple[str, str]:
    """Return (directory, name) of a POSIX remote path; directory is "" for a bare name."""
    directory, name = posixpath.split(path)
    return directory, name


def part_path(remote_path: str) -> str:
    """Return a new temporary upload path for ``remote_path``: ``<dir>/.<name>.<random>.part``
    (a name no other attempt uses, within 255 bytes)."""
    directory, name = split_remote(remote_path)
    token = secrets.token_hex(4)
    inner = fitted_name(name, limit=MAX_NAME_BYTES - len(PART_PREFIX + PART_SUFFIX) - 9)
    part_name = f"{PART_PREFIX}{inner}.{token}{PART_SUFFIX}"
    return posixpath.join(directory, part_name) if directory else part_name


def is_partial_upload(name: str) -> bool:
    """Return True if ``name`` is a temporary upload name (``.<name>.part``) to leave alone."""
    return name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX) and len(name) > 6


def same_directory(source: str, target: str) -> bool:
    """Return True if two remote paths name entries of the same directory."""
    return posixpath.normpath(split_remote(source)[0] or ".") == posixpath.normpath(
        split_remote(target)[0] or "."
    )


def is_transient(error: BaseException) -> bool:
    """Return True for errors worth another attempt (TransportError with ``transient``)."""
    return isinstance(error, TransportError) and bool(getattr(error, "transient", False))


class LocalSink:
    """A download's local file: every block counted by its TransferWatch first, and a
    failure to write it (a full disk) a LocalFileError, which no retry or other file can
    help, never taken for the server's fault.

    Given the ``remote`` path (and its ``size`` when known), the transfer observer set for
    this context, if any, is told of each block and of the end (``transport.progress``)."""

    def __init__(
        self,
        path: Path,
        watch: TransferWatch,
        *,
        remote: str | None = None,
        size: int | None = None,
    ) -> None:
        self._path = path
        self._watch = watch
        observer = current_observer()  # looked up once: a block pays one `is None` test
        self._told: tuple[TransferObserver, Transfer] | None = None
        if observer is not None and remote is not None:
            self._told = (observer, transfer_of("download", remote, size))
        try:
            self._handle = path.open("wb")
        except OSError as error:
            raise _local_error(path, error) from error

    def write(self, data: bytes, /) -> int:
        self._watch.add(len(data))
        try:
            written = self._handle.write(data)
        except OSError as error:
            raise _local_error(self._path, error) from error
        if self._told is not None:
            observer, transfer = self._told
            observer.advance(transfer, self._watch.received)
        return written

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError as error:
            raise _local_error(self._path, error) from error

    def __enter__(self) -> LocalSink:
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self._handle.close()
        finally:
            if self._told is not None:
                observer, transfer = self._told
                observer.end(transfer)


def _local_error(path: Path, error: OSError) -> LocalFileError:
    return LocalFileError(
        f"cannot write the local copy in {str(path.parent)!r}: {error.strerror or error}",
        hint="make room (or give permission) in ftpbridge's state directory",
    )


class TransferWatch:
    """Bounds one transfer. ``add`` is called with every block that arrives:

    - bytes: more than ``max_bytes`` in all raises TooLargeError (so a transfer stops at
      most one block past the limit, whatever size the server announced);
    - time: once ``grace`` seconds (the partner's ``timeout``) have passed, the transfer
      must have kept up ``min_rate`` bytes a second since then, else TooSlowError. A file
      of S bytes therefore has a deadline of ``grace + S / min_rate`` seconds, and a
      server that trickles a byte now and then is given up on soon after ``grace``.

    Each block is progress: it renews the job's deadline (``ftpbridge.deadlines``).
    """

    def __init__(
        self,
        what: str,
        *,
        min_rate: int,
        grace: float,
        max_bytes: int | None = None,
    ) -> None:
        self.what = what
        self.min_rate = min_rate
        self.grace = grace
        self.max_bytes = max_bytes
        self.received = 0
        self.started = time.monotonic()

    def add(self, count: int) -> None:
        """``count`` more bytes arrived; raise when the transfer is over a bound."""
        self.received += count
        if self.max_bytes is not None and self.received > self.max_bytes:
            raise TooLargeError(
                f"{self.what}: more than {self.max_bytes:,} bytes arrived, over the limit"
                " (max_file_bytes); the transfer was stopped",
                size=self.received,
                limit=self.max_bytes,
            )
        self.check_rate()
        deadlines.renew(self.grace * ATTEMPT_TIMEOUTS)

    def check_rate(self) -> None:
        """Raise TooSlowError when the transfer has fallen behind its minimum rate."""
        late = time.monotonic() - self.started - self.grace
        if late > 0 and self.received < self.min_rate * late:
            raise TooSlowError(
                f"{self.what}: the transfer fell behind the minimum rate of"
                f" {self.min_rate:,} bytes/s ({self.received:,} bytes in"
                f" {late + self.grace:.0f} s) and was abandoned",
                hint="it is tried again at the next run; if this partner's line is that slow,"
                " lower min_rate_bytes (or raise timeout) in its table",
            )


def retrying(
    operation: Callable[[], T],
    *,
    attempts: int,
    what: str,
    where: str,
    on_retry: Callable[[], None],
) -> T:
    """Run ``operation``; retry transient TransportErrors with exponential backoff.

    ``on_retry`` runs before each new attempt (it drops the connection so the next
    attempt reconnects). Non-transient errors, and the last transient one, propagate.
    """

    def before_sleep(state: tenacity.RetryCallState) -> None:
        deadlines.check()  # no further attempt for a job past its deadline
        error = state.outcome.exception() if state.outcome else None
        logger.warning(
            "transient transport error, retrying",
            operation=what,
            server=where,
            attempt=state.attempt_number,
            of=attempts,
            error=str(error),
        )
        on_retry()

    retryer = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, attempts)),
        wait=tenacity.wait_exponential(multiplier=RETRY_WAIT_INITIAL, max=RETRY_WAIT_MAX),
        retry=tenacity.retry_if_exception(is_transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retryer(operation)


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
