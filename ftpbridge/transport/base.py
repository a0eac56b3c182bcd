"""The transport protocol every backend (FTP, FTPS, SFTP, local directory) implements.

A transport moves bytes and lists directories; it knows nothing of CSV, settings or the
store. It is built from plain values (``ConnectionParams``), never from a config object.

Remote paths are POSIX-style strings (``"/inbox/archive"``). Names coming back from a
server are checked with ``is_safe_name`` before anyone can turn them into a local path.
"""

from __future__ import annotations

import posixpath
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TypeVar

import structlog
import tenacity

from ftpbridge.errors import TransportError

logger = structlog.get_logger()

MAX_NAME_BYTES = 255
PART_PREFIX = "."
PART_SUFFIX = ".part"

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
        An empty directory gives ``[]``. Raises RemoteNotFoundError if it does not exist.
        """
        ...

    def download(self, remote_path: str, local_path: Path) -> int:
        """Copy ``remote_path`` to ``local_path`` and return the number of bytes written.

        ``local_path`` appears complete or not at all (temp file + ``os.replace``).
        Raises RemoteNotFoundError if the remote file does not exist.
        """
        ...

    def upload(self, local_path: Path, remote_path: str) -> None:
        """Copy ``local_path`` to ``remote_path`` atomically.

        The bytes go to ``<dir>/.<name>.part`` first, which is then renamed onto the final
        name (an existing target is replaced). On failure the ``.part`` file is removed
        (best effort), so a reader never sees a partial file under the final name.
        """
        ...

    def rename(self, source: str, target: str) -> None:
        """Rename ``source`` to ``target``, replacing an existing target.

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
    """Return the temporary upload path for ``remote_path``: ``<dir>/.<name>.part``."""
    directory, name = split_remote(remote_path)
    part_name = PART_PREFIX + name + PART_SUFFIX
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


def move(transport: Transport, source: str, target: str, scratch_directory: Path) -> None:
    """Move ``source`` to ``target``: rename, or copy then delete when renaming across
    directories is refused (``CrossDirectoryRenameError``).

    The copy goes through ``scratch_directory`` (a local directory) and an atomic upload,
    so ``target`` appears complete or not at all; ``source`` is deleted only afterwards.
    """
    try:
        transport.rename(source, target)
    except CrossDirectoryRenameError:
        logger.info("rename across directories refused, copying instead", source=source)
        with tempfile.TemporaryDirectory(dir=scratch_directory) as scratch:
            local = Path(scratch) / "moving"
            transport.download(source, local)
            transport.upload(local, target)
        transport.delete(source)
