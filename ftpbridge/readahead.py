"""Run a generator one step ahead in a thread, so that its work overlaps the consumer's.

An import has two kinds of work per chunk: reading, looking up and validating (Python,
pandas and numpy, holding the GIL) and applying (one long SQL statement in the database's
C code, GIL released). Done one after the other, one core idles half the time; with the
producer a chunk ahead, the next chunk is prepared while the database applies this one.

The producer runs entirely in its thread (it is created, iterated and closed there), so a
database connection it opens is used by one thread only. Its exceptions reach the
consumer at the point where the item would have arrived; when the consumer stops early
(an error, a break), the producer is stopped and closed before ``read_ahead`` returns.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_END = object()
_POLL_SECONDS = 0.05


def read_ahead(produce: Callable[[], Generator[T, None, None]], *, depth: int = 1) -> Iterator[T]:
    """Yield what ``produce()`` yields, computed in a thread up to ``depth`` items ahead."""
    handoff: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                handoff.put((item, error), timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def run() -> None:
        try:
            with contextlib.closing(produce()) as items:
                for item in items:
                    if not offer(item):
                        return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            offer(_END, exc)
        else:
            offer(_END)

    thread = threading.Thread(target=run, name="ftpbridge-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = handoff.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield cast("T", item)  # what produce() yielded, handed over as an object
    finally:
        stop.set()
        thread.join()
