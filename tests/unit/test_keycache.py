"""The per-process memory of valid API keys (web/keycache.py), on a clock of the test's."""

from __future__ import annotations

import datetime as dt

from ftpbridge.store.api_keys import ApiKey, key_hash
from ftpbridge.web.keycache import KeyCache

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def key(name: str) -> ApiKey:
    return ApiKey(1, name, "acme", False, NOW, NOW, None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_remembered_for_the_seconds_given_and_then_forgotten() -> None:
    """Until ``seconds`` after the store's answer the key is known; from then on it is
    not (the caller asks the store again, and a revoked key is refused)."""
    clock = Clock()
    cache = KeyCache(5, clock=clock)
    assert cache.get("fb_a") is None  # never told: ask the store
    cache.put("fb_a", key("a"))
    clock.now += 4.9
    assert cache.get("fb_a") == key("a")
    assert cache.get("fb_b") is None
    clock.now += 0.1
    assert cache.get("fb_a") is None
    assert cache.get("fb_a") is None  # and stays forgotten


def test_zero_seconds_remembers_nothing() -> None:
    cache = KeyCache(0, clock=Clock())
    cache.put("fb_a", key("a"))
    assert cache.get("fb_a") is None


def test_at_most_capacity_keys_the_least_recently_used_go_first() -> None:
    """Bounded: the key used longest ago is dropped; keys are held by their SHA-256."""
    clock = Clock()
    cache = KeyCache(60, capacity=2, clock=clock)
    cache.put("fb_a", key("a"))
    cache.put("fb_b", key("b"))
    assert cache.get("fb_a") == key("a")  # a is now the most recently used
    cache.put("fb_c", key("c"))
    assert (cache.get("fb_a"), cache.get("fb_b"), cache.get("fb_c")) == (key("a"), None, key("c"))
    assert set(cache._entries) == {key_hash("fb_a"), key_hash("fb_c")}
