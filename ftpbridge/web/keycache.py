"""API keys found valid a moment ago, so that a client's next requests need no look-up.

A fulfiller polling View Orders sends the same key request after request; checking it in
the store cost a worker thread and a query each time (a tenth of a term search's CPU).
:class:`KeyCache` remembers, per process, each key the store found valid for ``seconds``
([api] ``key_cache_seconds``, 5 by default; 0 turns it off). What that means:

- a revoked key goes on working for at most ``seconds`` on a process that saw it just
  before (``ftpbridge api-key revoke`` says so); a new key works at once (only valid keys
  are remembered, a wrong key always asks the store);
- nothing in it is needed by another replica: each process asks the store when its entry
  is missing or old;
- keys are remembered by their SHA-256 (as the store keeps them), never as sent, and at
  most ``capacity`` of them (the least recently used go first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ftpbridge.store.api_keys import ApiKey, key_hash


class KeyCache:
    """Valid keys by SHA-256, each for ``seconds`` from when the store said so."""

    def __init__(
        self,
        seconds: float,
        *,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[str, tuple[ApiKey, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> ApiKey | None:
        """The key as the store gave it less than ``seconds`` ago, or None."""
        if self.seconds <= 0:
            return None
        digest = key_hash(key)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            found, until = entry
            if self._clock() >= until:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return found

    def put(self, key: str, found: ApiKey) -> None:
        """Remember that the store found ``key`` valid (as ``found``) just now."""
        if self.seconds <= 0:
            return
        digest = key_hash(key)
        with self._lock:
            self._entries[digest] = (found, self._clock() + self.seconds)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
