"""Progress of long work (orders load, export, import), on a terminal only.

One line on stderr, rewritten in place (``\\r``) at most five times a second, cleared when
the work ends. Nothing at all when stderr is not a terminal: a pipe, a file, cron's mail
or the journal get no progress noise, only the result.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Self, TextIO

_INTERVAL = 0.2


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
