"""FTP servers that lie and misbehave, for the hostile-server cases (issue 12): pyftpdlib's
handler (as ``tests/servers.py`` builds it) subclassed per file name.

    server = start_ftp_server(home, customise=lying({"x_updated_1.csv": Lie(announce=1,
                                                                      send=ENDLESS)}))

What a ``Lie`` can do to one file:

- ``announce``: the size SIZE answers and MLSD/LIST show (the file on disk is what it is);
- ``send``: what RETR sends instead of the file: that many bytes of ``x``, or ``ENDLESS``
  (``ENDLESS_BYTES_CAP``: see there);
- ``trickle``: RETR sends one byte every ``trickle`` seconds (the server's own pace: this
  is the fault being injected, nothing in a test waits on it), ``TRICKLE_CAP`` of them;
- ``refuse``: RETR is answered with this (e.g. ``"550 Permission denied."``);
- ``hide_size``: SIZE is refused and MLSD shows no size (a listing without sizes);
- ``listed_size``: the size MLSD, LIST and SIZE show, as any text (``"²"``, 5,000
  digits); RETR sends the file.

``endless_listing(name_pattern)``: MLSD and LIST of any folder answer with entries made
up without end (until ``ENDLESS_LISTING_CAP`` entries, so that a client without a bound
finishes, holding them all, instead of hanging the test run).

Every lie counts what it did in ``LieStats`` (bytes sent, transfers started), so a test
can assert how often a file was downloaded.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

ENDLESS = -1
# Bounds only for a client that has none (ftpbridge before issue 12): it then finishes,
# with far too much, and the test fails, instead of filling the disk or hanging the run.
ENDLESS_BYTES_CAP = 300_000_000
ENDLESS_LISTING_CAP = 1_000_000  # entries
TRICKLE_CAP = 100  # bytes
CHUNK = 64 * 1024


@dataclass
class LieStats:
    """What the lying server did, per file name."""

    transfers: dict[str, int] = field(default_factory=dict)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    listing_entries_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sent(self, name: str, count: int) -> None:
        with self.lock:
            self.bytes_sent[name] = self.bytes_sent.get(name, 0) + count

    def started(self, name: str) -> None:
        with self.lock:
            self.transfers[name] = self.transfers.get(name, 0) + 1


@dataclass(frozen=True)
class Lie:
    announce: int | None = None
    send: int | None = None
    trickle: float | None = None
    refuse: str | None = None
    hide_size: bool = False
    listed_size: str | None = None


class _Producer:
    """What asynchat asks for more data: ``more()`` gives the next block, b"" at the end."""

    def __init__(self, blocks: Iterator[bytes], name: str, stats: LieStats) -> None:
        self._blocks = blocks
        self._name = name
        self._stats = stats

    def more(self) -> bytes:
        block = next(self._blocks, b"")
        self._stats.sent(self._name, len(block))
        return block


def _blocks(lie: Lie, stop: threading.Event) -> Iterator[bytes]:
    if lie.trickle is not None:
        # One byte, then the server's own pause, again (until the client hangs up).
        for _ in range(TRICKLE_CAP):
            yield b"x"
            stop.wait(lie.trickle)
        return
    left = ENDLESS_BYTES_CAP if lie.send == ENDLESS else lie.send or 0
    while left > 0:
        size = min(CHUNK, left)
        yield b"x" * size
        left -= size


def lying(lies: dict[str, Lie], stats: LieStats | None = None) -> Callable[[type], type]:
    """A ``customise`` for ``start_ftp_server``: the handler lies about the files named in
    ``lies``; ``stats`` (if given) counts what it did."""
    counts = stats if stats is not None else LieStats()
    stop = threading.Event()  # never set: a trickle ends when its client hangs up

    def customise(handler: type) -> type:
        base: Any = handler

        class LyingFS(base.abstracted_fs):  # type: ignore[misc, name-defined]
            def _announce(self, lines: Iterator[bytes]) -> Iterator[bytes]:
                for line in lines:
                    name = line.rstrip(b"\r\n").rsplit(b" ", 1)[-1].decode("utf-8", "replace")
                    lie = lies.get(name)
                    if lie is not None and lie.announce is not None:
                        line = re.sub(rb"size=\d+", b"size=%d" % lie.announce, line)
                    elif lie is not None and lie.hide_size:
                        line = re.sub(rb"size=\d+;", b"", line)
                    elif lie is not None and lie.listed_size is not None:
                        said = lie.listed_size.encode()
                        line = re.sub(rb"size=\d+", lambda _, said=said: b"size=" + said, line)
                    yield line

            def format_mlsx(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
                return self._announce(super().format_mlsx(*args, **kwargs))

            def format_list(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
                for line in super().format_list(*args, **kwargs):
                    name = line.rstrip(b"\r\n").rsplit(b" ", 1)[-1].decode("utf-8", "replace")
                    lie = lies.get(name)
                    if lie is not None and lie.listed_size is not None:
                        # perms, links, owner, group, then the size column
                        said = lie.listed_size.encode()
                        line = re.sub(
                            rb"^((?:\S+\s+){4})\d+", lambda found, said=said: found[1] + said, line
                        )
                    yield line

        class Liar(base):  # type: ignore[misc, valid-type]
            abstracted_fs = LyingFS

            def ftp_SIZE(self, path: str) -> Any:
                lie = lies.get(os.path.basename(path))
                if lie is not None and lie.announce is not None:
                    self.respond(f"213 {lie.announce}")
                    return path
                if lie is not None and lie.hide_size:
                    self.respond("550 SIZE not available.")
                    return None
                if lie is not None and lie.listed_size is not None:
                    self.respond(f"213 {lie.listed_size}")
                    return path
                return super().ftp_SIZE(path)

            def ftp_RETR(self, file: str) -> Any:
                name = os.path.basename(file)
                lie = lies.get(name)
                if lie is None or (lie.send, lie.trickle, lie.refuse) == (None, None, None):
                    return super().ftp_RETR(file)
                if lie.refuse is not None:
                    self.respond(lie.refuse)
                    return None
                counts.started(name)
                handle = open(file, "rb")  # closed by pyftpdlib when the transfer ends
                producer = _Producer(_blocks(lie, stop), name, counts)
                self.push_dtp_data(producer, isproducer=True, file=handle, cmd="RETR")
                return file

        return Liar

    return customise


def endless_listing(stats: LieStats | None = None) -> Callable[[type], type]:
    """A ``customise`` whose MLSD and LIST answers never end (see the module doc)."""
    counts = stats if stats is not None else LieStats()

    def entries(mlsd: bool) -> Iterator[bytes]:
        for number in range(ENDLESS_LISTING_CAP):
            with counts.lock:
                counts.listing_entries_sent += 1
            name = f"made_up_{number:09d}.txt"
            if mlsd:
                yield f"type=file;size=10;modify=20261123100000; {name}\r\n".encode()
            else:
                yield f"-rw-r--r-- 1 u g 10 Nov 23 10:00 {name}\r\n".encode()

    def customise(handler: type) -> type:
        base: Any = handler
        from pyftpdlib.handlers.ftp.producers import BufferedIteratorProducer

        class Endless(base):  # type: ignore[misc, valid-type]
            def ftp_MLSD(self, path: str) -> Any:
                producer = BufferedIteratorProducer(entries(mlsd=True))
                self.push_dtp_data(producer, isproducer=True, cmd="MLSD")
                return path

            def ftp_LIST(self, path: str) -> Any:
                producer = BufferedIteratorProducer(entries(mlsd=False))
                self.push_dtp_data(producer, isproducer=True, cmd="LIST")
                return path

        return Endless

    return customise


def endless_banner(interval: float, lines: int = 600) -> Callable[[type], type]:
    """A ``customise`` whose greeting never ends: a ``220-`` continuation line every
    ``interval`` seconds (``lines`` of them, then the final ``220``), sent from the
    server's own event loop. Each line comes well within any socket timeout, so a client
    that waits for the greeting's end without a deadline of its own waits as long as the
    server likes."""

    def customise(handler: type) -> type:
        base: Any = handler

        class Greeter(base):  # type: ignore[misc, valid-type]
            def handle(self) -> None:
                self.on_connect()
                self._greet(0)

            def _greet(self, number: int) -> None:
                if self._closed or self._closing:
                    return
                if number >= lines:
                    self.respond("220 ready at last")
                    return
                self.push(f"220-still greeting you ({number})\r\n")
                self.ioloop.call_later(interval, self._greet, number + 1)

        return Greeter

    return customise
