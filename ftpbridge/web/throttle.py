"""Slowing down addresses that keep sending wrong keys.

Per address, failures within ``window`` seconds are counted; from the ``free``-th on,
every further refusal is answered only after a delay that doubles each time (up to
``longest``). A good key from the address clears its count. The table is bounded
(``capacity`` addresses, the stalest dropped first) and per process: keys are 256 random
bits, so this guards the store and the logs against floods, not the keys against guessing,
and a replica needs nothing from another's table.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class FailureThrottle:
    def __init__(
        self,
        *,
        free: int = 3,
        first_delay: float = 0.5,
        longest: float = 8.0,
        window: float = 900.0,
        capacity: int = 10_000,
    ) -> None:
        self.free = free
        self.first_delay = first_delay
        self.longest = longest
        self.window = window
        self.capacity = capacity
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def failed(self, address: str) -> float:
        """Count a failure from ``address``; return how long to wait before answering."""
        now = time.monotonic()
        with self._lock:
            count, since = self._failures.pop(address, (0, now))
            if now - since > self.window:
                count, since = 0, now
            count += 1
            self._failures[address] = (count, since)
            while len(self._failures) > self.capacity:
                self._failures.popitem(last=False)
        if count <= self.free:
            return 0.0
        return float(min(self.first_delay * 2 ** (count - self.free - 1), self.longest))

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)
