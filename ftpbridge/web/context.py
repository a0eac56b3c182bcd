"""What every route needs, built once per app and handed down (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from ftpbridge.settings import ApiSettings, Settings
from ftpbridge.store import Store
from ftpbridge.web.keycache import KeyCache
from ftpbridge.web.throttle import FailureThrottle


@dataclass
class ApiContext:
    settings: Settings
    store: Store
    throttle: FailureThrottle = field(default_factory=FailureThrottle)
    keys: KeyCache = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyCache(self.settings.api.key_cache_seconds)

    @property
    def api(self) -> ApiSettings:
        return self.settings.api


def context_of(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context
