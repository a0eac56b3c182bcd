"""A transfer's bounds and its local file: ``TransferWatch`` stops a transfer over its
bytes or behind its minimum rate (and renews the job's deadline with each block);
``LocalSink`` is a download's local file, every block counted by its watch first and told
to the transfer's observer (``transport.progress``).
"""

from __future__ import annotations

import time
from pathlib import Path

from ftpbridge import deadlines
from ftpbridge.errors import LocalFileError, TooLargeError, TooSlowError
from ftpbridge.transport.base import ATTEMPT_TIMEOUTS
from ftpbridge.transport.progress import (
    Transfer,
    TransferObserver,
    current_observer,
    transfer_of,
)


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
