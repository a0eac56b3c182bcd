"""How a session reads, writes and lists: fast paths over paramiko internals, or its public API.

paramiko's public SFTP API leaves much of the throughput on the table (docs/benchmarks.md,
``bench/transfer.py``). The fast paths, each over paramiko internals:

- pipelined reads: ``PIPELINE_DEPTH`` read requests in flight, answers collected as they
  arrive (``SFTPClient._async_request`` / ``_read_response``), as OpenSSH's client does;
  paramiko's ``prefetch`` runs a thread that, once bounded, polls every 10 ms and starves
  the reader (unbounded, it queues the whole file);
- larger requests: up to 128 KiB each way when OpenSSH announces it (``limits@openssh.com``
  through ``SFTPClient._request``; written with ``SFTPFile.MAX_REQUEST_SIZE``), against the
  32 KiB every server must accept: a quarter of paramiko's per-request Python cost;
- the channel's receive buffer (``receive_buffer.ChunkedPipe`` as ``Channel.in_buffer``);
- listings that keep names which are not UTF-8 (``SFTPClient._request`` and
  ``SFTPAttributes._from_msg``, as ``listdir_attr`` uses them): ``listdir_attr`` raises
  UnicodeDecodeError on the first such name, which would hide every other file.

``choose_paths`` is the one capability check, made when a session opens: it looks up every
internal (``missing_internals``) and tries the receive buffer against paramiko's own. All
present and agreeing: :class:`FastPaths`, which reaches the internals only through what
the check found. Otherwise :class:`PublicPaths`, paramiko's documented API (``prefetch``
and ``read``, ``putfo(confirm=False)``, ``listdir_attr``, 32 KiB requests, its own buffer):
slower, the same bytes; a directory holding a name that is not UTF-8 cannot be listed
there, and the error says so. pyproject caps paramiko at the major versions tested.
"""

from __future__ import annotations

import errno
import stat
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

import paramiko
import structlog
from paramiko import sftp as protocol
from paramiko.buffered_pipe import BufferedPipe

from ftpbridge.errors import ListingTooLongError, TransportError
from ftpbridge.transport.base import RemoteFile
from ftpbridge.transport.sftp.receive_buffer import ChunkedPipe

logger = structlog.get_logger()

# 32 KiB is what every server must accept; OpenSSH (8.6+) announces larger limits.
DEFAULT_REQUEST_SIZE = 32 * 1024
MAX_REQUEST_SIZE = 128 * 1024
# Downloads keep this many read requests in flight, like OpenSSH's client.
PIPELINE_DEPTH = 64
# Bytes read from a local file (upload) or from paramiko's file (public download) at once.
BLOCK_SIZE = 1024 * 1024

# The internals the fast paths use: (what, name) looked up with getattr.
_METHODS: tuple[tuple[Any, str], ...] = (
    (paramiko.SFTPClient, "_request"),
    (paramiko.SFTPClient, "_async_request"),
    (paramiko.SFTPClient, "_read_response"),
    (paramiko.SFTPAttributes, "_from_msg"),
    (paramiko.SFTPFile, "MAX_REQUEST_SIZE"),
    (BufferedPipe, "_buffer_frombytes"),
    (BufferedPipe, "_buffer_tobytes"),
)
_PROTOCOL = (
    "CMD_CLOSE",
    "CMD_DATA",
    "CMD_EXTENDED",
    "CMD_EXTENDED_REPLY",
    "CMD_HANDLE",
    "CMD_NAME",
    "CMD_OPENDIR",
    "CMD_READ",
    "CMD_READDIR",
    "CMD_STATUS",
    "SFTP_EOF",
    "SFTP_NO_SUCH_FILE",
    "SFTP_PERMISSION_DENIED",
    "int64",
)


def missing_internals(channel: paramiko.Channel) -> list[str]:
    """The paramiko internals the fast paths need that this paramiko (or ``channel``) lacks,
    or where the receive buffer does not behave as paramiko's own; [] when all is there."""
    missing = [f"{owner.__name__}.{name}" for owner, name in _METHODS if not hasattr(owner, name)]
    missing += [f"paramiko.sftp.{name}" for name in _PROTOCOL if not hasattr(protocol, name)]
    if not isinstance(getattr(channel, "in_buffer", None), BufferedPipe):
        missing.append("Channel.in_buffer")
    if not hasattr(BufferedPipe(), "_buffer"):
        missing.append("BufferedPipe._buffer")
    elif not missing and not _receive_buffer_agrees():
        missing.append("BufferedPipe._buffer (behaves differently)")
    return missing


def _receive_buffer_agrees() -> bool:
    """Feed and read a ChunkedPipe and a BufferedPipe alike: do they give the same bytes?"""
    theirs: BufferedPipe[bytes] = BufferedPipe()
    ours = ChunkedPipe()
    try:
        results = []
        for pipe in (ours, theirs):  # the same steps on each
            for data in (b"abc", b"", b"defgh"):
                pipe.feed(data)
            taken = [pipe.read(2), pipe.read(4), len(pipe), pipe.read(10), len(pipe)]
            pipe.close()
            results.append([*taken, pipe.read(10)])
    except Exception:  # noqa: BLE001  (a changed paramiko may fail in any way: then no)
        return False
    return results[0] == results[1] == [b"ab", b"cdef", 2, b"gh", 0, b""]


def choose_paths(channel: paramiko.Channel) -> PublicPaths:
    """The capability check: :class:`FastPaths` when every internal is there and behaves,
    else :class:`PublicPaths` (logged once per session, with what was missing)."""
    missing = missing_internals(channel)
    if missing:
        logger.info(
            "paramiko internals missing or changed: using its public API (slower)",
            missing=missing,
            paramiko=paramiko.__version__,
        )
        return PublicPaths()
    found = {name: getattr(owner, name) for owner, name in _METHODS}
    return FastPaths(
        _Internals(
            request=found["_request"],
            async_request=found["_async_request"],
            read_response=found["_read_response"],
            attributes_from_message=found["_from_msg"],
        )
    )


class Sink(Protocol):
    """Where a download's bytes go (a file, or a file behind the transfer's bounds)."""

    def write(self, data: bytes, /) -> object: ...


def too_long(directory: str, limit: int) -> ListingTooLongError:
    """The error for a folder holding more than ``limit`` entries."""
    return ListingTooLongError(
        f"sftp: the folder {directory!r} holds more than {limit:,} entries"
        " (max_listing_entries); nothing was taken from it",
        hint="ask the partner to clear the folder (move old files away), or raise"
        " max_listing_entries in the partner's table",
    )


def remote_file(name: str, attributes: paramiko.SFTPAttributes) -> RemoteFile:
    """A listing entry from its name and SFTP attributes."""
    is_dir = attributes.st_mode is not None and stat.S_ISDIR(attributes.st_mode)
    mtime = attributes.st_mtime
    return RemoteFile(
        name=name,
        size=None if is_dir else attributes.st_size,
        mtime=datetime.fromtimestamp(mtime, tz=UTC) if mtime is not None else None,
        is_dir=is_dir,
    )


class PublicPaths:
    """paramiko's documented API: what every paramiko offers."""

    fast = False

    def install_buffer(self, channel: paramiko.Channel) -> None:
        """Keep the channel's own receive buffer."""

    def request_sizes(self, sftp: paramiko.SFTPClient) -> tuple[int, int]:
        """(read, write) request sizes: the 32 KiB every server accepts."""
        return DEFAULT_REQUEST_SIZE, DEFAULT_REQUEST_SIZE

    def read(
        self,
        sftp: paramiko.SFTPClient,
        remote: paramiko.SFTPFile,
        size: int,
        sink: Sink,
        request_size: int,
    ) -> None:
        """Copy the first ``size`` bytes of ``remote`` into ``sink`` (bounded prefetch)."""
        remote.prefetch(size, max_concurrent_requests=PIPELINE_DEPTH)
        left = size
        while left > 0 and (block := remote.read(min(BLOCK_SIZE, left))):
            sink.write(block)
            left -= len(block)

    def write(
        self, sftp: paramiko.SFTPClient, source: BinaryIO, path: str, request_size: int
    ) -> None:
        """Write ``source`` to the new file ``path`` (pipelined; no stat afterwards, which
        write-only inboxes refuse)."""
        sftp.putfo(source, path, confirm=False)

    def listdir(
        self, sftp: paramiko.SFTPClient, directory: str, *, limit: int | None = None
    ) -> list[RemoteFile]:
        """The entries of ``directory`` (without ``.`` and ``..``); ListingTooLongError
        past ``limit`` entries. paramiko's public API reads a listing whole (its
        ``listdir_iter`` cannot be left half-way without confusing the session): only
        the fast path reads it as a stream."""
        try:
            listed = sftp.listdir_attr(directory)
        except UnicodeDecodeError as error:
            failure = TransportError(
                f"sftp: cannot list {directory!r}: a file name there is not UTF-8, which this"
                f" paramiko ({paramiko.__version__}) cannot read",
                hint="ask the partner to rename that file (only UTF-8 names can be read)",
            )
            failure.transient = False
            raise failure from error
        if limit is not None and len(listed) > limit:
            raise too_long(directory, limit)
        return [remote_file(attributes.filename, attributes) for attributes in listed]


@dataclass(frozen=True)
class _Internals:
    """paramiko's private pieces, as the capability check found them (unbound methods)."""

    request: Callable[..., tuple[int, paramiko.Message]]
    async_request: Callable[..., int]
    read_response: Callable[..., Any]
    attributes_from_message: Callable[[paramiko.Message], paramiko.SFTPAttributes]


class FastPaths(PublicPaths):
    """The fast paths (see the module doc), over the internals the check found."""

    fast = True

    def __init__(self, internals: _Internals) -> None:
        self._internals = internals

    def install_buffer(self, channel: paramiko.Channel) -> None:
        """Put the faster receive buffer in, before the server sends anything."""
        channel.in_buffer = ChunkedPipe()

    def request_sizes(self, sftp: paramiko.SFTPClient) -> tuple[int, int]:
        """(read, write) request sizes the server accepts: its ``limits@openssh.com``
        answer capped at MAX_REQUEST_SIZE, else the 32 KiB every server must accept."""
        try:
            kind, message = self._internals.request(
                sftp, protocol.CMD_EXTENDED, "limits@openssh.com"
            )
        except (OSError, paramiko.SFTPError):  # "Operation unsupported": not OpenSSH 8.6+
            return DEFAULT_REQUEST_SIZE, DEFAULT_REQUEST_SIZE
        if kind != protocol.CMD_EXTENDED_REPLY:
            return DEFAULT_REQUEST_SIZE, DEFAULT_REQUEST_SIZE
        message.get_int64()  # largest packet
        limits = [message.get_int64(), message.get_int64()]  # largest read, largest write
        read, write = (
            min(limit, MAX_REQUEST_SIZE) if limit >= DEFAULT_REQUEST_SIZE else DEFAULT_REQUEST_SIZE
            for limit in limits
        )
        return read, write

    def read(
        self,
        sftp: paramiko.SFTPClient,
        remote: paramiko.SFTPFile,
        size: int,
        sink: Sink,
        request_size: int,
    ) -> None:
        """Copy ``size`` bytes of ``remote`` into ``sink``, PIPELINE_DEPTH requests of
        ``request_size`` in flight (64 of 32 KiB is what OpenSSH's client does)."""
        responses = _ReadResponses()
        pending: deque[tuple[int, int, int]] = deque()
        offset = 0
        while pending or offset < size:
            while len(pending) < PIPELINE_DEPTH and offset < size:
                length = min(request_size, size - offset)
                number = self._internals.async_request(
                    sftp,
                    responses,
                    protocol.CMD_READ,
                    remote.handle,
                    protocol.int64(offset),
                    int(length),
                )
                pending.append((number, offset, length))
                offset += length
            number, chunk_offset, length = pending.popleft()
            while number not in responses.data and number not in responses.errors:
                self._internals.read_response(sftp)
            if number in responses.errors:
                raise responses.errors.pop(number)
            data = responses.data.pop(number)
            if len(data) < length:  # a short read: fetch the rest of this chunk synchronously
                remote.seek(chunk_offset + len(data))
                data += remote.read(length - len(data))
                if len(data) < length:
                    raise EOFError(f"file ended at {chunk_offset + len(data)} of {size} bytes")
            sink.write(data)

    def write(
        self, sftp: paramiko.SFTPClient, source: BinaryIO, path: str, request_size: int
    ) -> None:
        """Write ``source`` to the new file ``path``: pipelined, ``request_size`` requests
        (putfo(confirm=False) does the same with 32 KiB ones); no stat afterwards."""
        with sftp.open(path, "wb", 0) as remote:
            remote.set_pipelined(True)
            remote.MAX_REQUEST_SIZE = request_size
            while block := source.read(BLOCK_SIZE):
                remote.write(block)

    def listdir(
        self, sftp: paramiko.SFTPClient, directory: str, *, limit: int | None = None
    ) -> list[RemoteFile]:
        """The entries of ``directory``, names that are not UTF-8 kept (surrogate escapes,
        which ``is_safe_name`` then refuses with a warning) instead of failing the listing;
        read as a stream: ListingTooLongError past ``limit`` entries."""
        request = self._internals.request
        kind, message = request(sftp, protocol.CMD_OPENDIR, directory.encode("utf-8"))
        if kind != protocol.CMD_HANDLE:
            raise paramiko.SFTPError("Expected handle")
        handle = message.get_binary()
        entries = []
        try:
            while True:
                try:
                    kind, message = request(sftp, protocol.CMD_READDIR, handle)
                except EOFError:
                    break
                if kind != protocol.CMD_NAME:
                    raise paramiko.SFTPError("Expected name response")
                for _ in range(message.get_int()):
                    name = message.get_string().decode("utf-8", "surrogateescape")
                    message.get_string()  # longname, unused
                    attributes = self._internals.attributes_from_message(message)
                    if name not in (".", ".."):
                        entries.append(remote_file(name, attributes))
                if limit is not None and len(entries) > limit:
                    raise too_long(directory, limit)
        finally:
            request(sftp, protocol.CMD_CLOSE, handle)
        return entries


class _ReadResponses:
    """Collects read answers that arrive while we wait for an older one (paramiko calls
    ``_async_response`` of the object given to ``_async_request``)."""

    def __init__(self) -> None:
        self.data: dict[int, bytes] = {}
        self.errors: dict[int, Exception] = {}

    def _async_response(self, kind: int, message: paramiko.Message, number: int) -> None:
        if kind == protocol.CMD_DATA:
            self.data[number] = message.get_string()
        else:
            self.errors[number] = paramiko.SFTPError(f"unexpected answer {kind} to a read")
            if kind == protocol.CMD_STATUS:
                try:
                    message.rewind()
                    message.get_int()  # request number, read already
                    self.errors[number] = _status_error(message)
                except Exception as error:  # noqa: BLE001  (kept to re-raise in order)
                    self.errors[number] = error


def _status_error(message: paramiko.Message) -> Exception:
    code = message.get_int()
    text = message.get_text()
    if code == protocol.SFTP_EOF:
        return EOFError(text)
    if code == protocol.SFTP_NO_SUCH_FILE:
        return OSError(errno.ENOENT, text)
    if code == protocol.SFTP_PERMISSION_DENIED:
        return OSError(errno.EACCES, text)
    return OSError(text)
