"""Progress of long work (orders load, export, import, transfers), on a terminal only.

One line on stderr, rewritten in place (``\\r``) at most five times a second, cleared when
the work ends. Nothing at all when stderr is not a terminal: a pipe, a file, cron's mail
or the journal get no progress noise, only the result.

Transfers are shown through the transports' observer hook (``transport.progress``):
``showing_transfers`` sets one for the command's work, a line per transfer.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Literal, Self, TextIO

from ftpbridge.logs import shown
from ftpbridge.transport.progress import Transfer, observing

_INTERVAL = 0.2
# A longer name is shortened in the middle, so that the line fits a terminal's width.
_NAME_WIDTH = 40


class Progress:
    """``progress(done, total)`` as the work goes; ``unit`` "bytes" shows MB and a
    percentage, "rows" a count (``total`` 0 or None: unknown)."""

    def __init__(self, label: str, *, unit: str = "rows", stream: TextIO | None = None) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False
        self._shown_at: float | None = None
        self._width = 0

    def __call__(self, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = bool(total) and done >= (total or 0)
        if self._shown_at is not None and now - self._shown_at < _INTERVAL and not final:
            return
        self._shown_at = now
        if self.unit == "bytes":
            text = f"{self.label}: {done / 1e6:,.1f} MB"
            if total:
                text = f"{self.label}: {min(100, done * 100 // total)}% ({done / 1e6:,.1f} of"
                text += f" {total / 1e6:,.1f} MB)"
        else:
            text = f"{self.label}: {done:,} {self.unit}"
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Clear the line (the command's own output follows)."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class TransferLines:
    """A transfer observer (``transport.progress.TransferObserver``): a Progress line for
    each transfer in ``directions``, "Uploading NAME: 37% (45.2 of 120.0 MB)" (the MB
    alone when the size is not known), cleared when that transfer ends."""

    def __init__(
        self, directions: set[Literal["upload", "download"]], *, stream: TextIO | None = None
    ) -> None:
        self._directions = directions
        self._stream = stream
        self._transfer: Transfer | None = None
        self._line: Progress | None = None

    def advance(self, transfer: Transfer, done: int) -> None:
        if transfer.direction not in self._directions:
            return
        if transfer is not self._transfer or self._line is None:
            self.close()
            verb = "Uploading" if transfer.direction == "upload" else "Downloading"
            label = f"{verb} {_short(shown(transfer.name))}"
            self._line = Progress(label, unit="bytes", stream=self._stream)
            self._transfer = transfer
        self._line(done, transfer.size)

    def end(self, transfer: Transfer) -> None:
        if transfer is self._transfer:
            self.close()

    def close(self) -> None:
        """Clear the current line, if any."""
        if self._line is not None:
            self._line.close()
        self._line = None
        self._transfer = None


@contextmanager
def showing_transfers(*directions: Literal["upload", "download"]) -> Iterator[None]:
    """Show the transfers (in ``directions``) made in this block, on a terminal only: off
    one, no observer is set at all, and the transfers run as the service runs them."""
    stream = sys.stderr
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if not terminal:
        yield
        return
    lines = TransferLines(set(directions), stream=stream)
    try:
        with observing(lines):
            yield
    finally:
        lines.close()


def _short(name: str) -> str:
    if len(name) <= _NAME_WIDTH:
        return name
    keep = _NAME_WIDTH - 3
    return name[: keep - keep // 2] + "..." + name[-(keep // 2) :]
