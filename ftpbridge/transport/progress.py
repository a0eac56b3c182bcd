"""Who is told how a transfer goes: the hook behind the command line's progress line.

A command that wants to show its transfers sets an observer for the work it runs
(``with observing(observer): ...``); every download (``base.LocalSink``) and every upload
(``upload_source``) made inside it, on any transport, tells that observer of each block.
The hook is a context variable, so nothing has to be handed down through the cycles, and
a thread that never set one (the service's scheduled jobs, the console) tells nobody: the
observer is looked up once per transfer, and without one an upload reads a plain file and
a download pays one ``is None`` test per block.
"""

from __future__ import annotations

import io
import os
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, Protocol


@dataclass(frozen=True, eq=False)
class Transfer:
    """One transfer (one attempt: a retry is a new one): ``direction``, the remote file's
    bare ``name``, and its ``size`` in bytes when known beforehand (None when not)."""

    direction: Literal["upload", "download"]
    name: str
    size: int | None


class TransferObserver(Protocol):
    """Told how transfers go. ``advance`` after each block with the bytes moved so far
    (they only grow within a transfer); ``end`` once the transfer is over, whole or not."""

    def advance(self, transfer: Transfer, done: int) -> None: ...

    def end(self, transfer: Transfer) -> None: ...


_observer: ContextVar[TransferObserver | None] = ContextVar(
    "ftpbridge_transfer_observer", default=None
)


@contextmanager
def observing(observer: TransferObserver) -> Iterator[None]:
    """Tell ``observer`` of every transfer made in this context (this thread or task)."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


def current_observer() -> TransferObserver | None:
    """The observer set for this context, if any."""
    return _observer.get()


def transfer_of(
    direction: Literal["upload", "download"], remote_path: str, size: int | None
) -> Transfer:
    """The Transfer of ``remote_path`` (shown by its bare name)."""
    return Transfer(direction, posixpath.basename(remote_path.rstrip("/")) or remote_path, size)


class _ObservedReader(io.BufferedReader):
    """A local file being uploaded: each ``read`` (how ftplib, paramiko and the copy loops
    take an upload's blocks) tells the observer how far the upload is."""

    def __init__(self, raw: io.FileIO, observer: TransferObserver, transfer: Transfer) -> None:
        super().__init__(raw)
        self._observer = observer
        self._transfer = transfer
        self._done = 0

    def read(self, size: int | None = -1, /) -> bytes:
        block = super().read(size)
        if block:
            self._done += len(block)
            self._observer.advance(self._transfer, self._done)
        return block


@contextmanager
def upload_source(local_path: Path, remote_path: str) -> Iterator[BinaryIO]:
    """``local_path`` opened for reading, to be uploaded to ``remote_path``: the plain file
    when no observer is set, else one that tells it of each block read (and the end)."""
    observer = _observer.get()
    if observer is None:
        with local_path.open("rb") as handle:
            yield handle
        return
    raw = io.FileIO(local_path, "rb")
    transfer = transfer_of("upload", remote_path, os.fstat(raw.fileno()).st_size)
    try:
        with _ObservedReader(raw, observer, transfer) as handle:
            yield handle
    finally:
        raw.close()
        observer.end(transfer)
