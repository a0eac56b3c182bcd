"""A real ``ftpbridge serve`` process on a free 127.0.0.1 port over a store with the
sample orders (both backends), API keys made for it, and httpx clients with those keys.

Partners (tests/conftest.py): ``acme`` takes every item but warehouse SKUs ``AC-*``, which
go to ``ac`` (items 1003, 1012, 1013 and 1017 of orders 2, 8, 9 and 11).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

_CHECKOUT = str(Path(__file__).resolve().parents[2])
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from ftpbridge.store import Store, api_keys  # noqa: E402
from ftpbridge.store.engine import utcnow  # noqa: E402
from ftpbridge.store.shipments import AuditSource, apply_shipments  # noqa: E402
from tests.runs import FTPBRIDGE  # noqa: E402
from tests.servers import wait_for  # noqa: E402

UPS = "1Z5R89390357567127"


class ServeProcess:
    """``ftpbridge --config CONFIG serve`` (or ``run``) with its JSON log in a file."""

    def __init__(
        self,
        config: Path,
        *arguments: str,
        command: str = "serve",
        env: dict[str, str] | None = None,
    ) -> None:
        self.log_path = config.parent / f"{command}-{time.monotonic_ns()}.log"
        self.log_file = self.log_path.open("wb")
        extra = ["--listen", "127.0.0.1:0"] if command == "serve" else []
        self.process = subprocess.Popen(
            [FTPBRIDGE, "--config", str(config), command, *extra, *arguments],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
            env={**os.environ, **(env or {})},
        )
        self.url = wait_for(self._url, f"ftpbridge {command} to serve", timeout=60)

    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return found

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _url(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"ftpbridge exited early:\n{self.log()}")
        for event in self.events():
            if event.get("event") == "ftpbridge serving":
                return str(event["url"])
        return None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.log_file.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log_file.close()


@dataclass
class Api:
    """A running service and its keys (name → key)."""

    service: ServeProcess
    store: Store
    keys: dict[str, str]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, key_name: str | None = "shop", **kwargs: Any) -> httpx.Client:
        auth = ("fulfiller@example.com", self.keys[key_name]) if key_name else None
        client = httpx.Client(base_url=self.service.url, auth=auth, timeout=120, **kwargs)
        self.clients.append(client)
        return client

    def view(self, key_name: str = "shop", **search: Any) -> dict[str, Any]:
        """POST /api/v1/order with search=JSON as a form field (Topspin's documented way)."""
        response = self.client(key_name).post("/api/v1/order", data={"search": json.dumps(search)})
        assert response.status_code == 200, response.text
        return response.json()


KEYS = (
    ("shop", None, False),
    ("acme-wms", "acme", False),
    ("ac-wms", "ac", False),
    ("acme-reader", "acme", True),
)


def make_keys(store: Store) -> dict[str, str]:
    made = {}
    with store.begin() as connection:
        for name, partner, read_only in KEYS:
            _key, made[name] = api_keys.create(
                connection, name, partner=partner, read_only=read_only, now=utcnow()
            )
    return made


def ship(
    store: Store, item_id: str, day: dt.date, carrier: str = "UPS", tracking: str = UPS
) -> None:
    """Mark an item shipped in the store (test setup, with an audit row)."""
    with store.begin() as connection:
        apply_shipments(
            connection,
            [(item_id, "shipped", day.isoformat(), carrier, tracking, 0)],
            AuditSource(None, "test setup"),
            utcnow(),
        )


@pytest.fixture
def api(loaded_store: Store, config_file: Path) -> Iterator[Api]:
    """The sample orders, four keys (shop; acme-wms, ac-wms; acme-reader read-only) and
    ``ftpbridge serve`` over them."""
    keys = make_keys(loaded_store)
    service = ServeProcess(config_file)
    running = Api(service, loaded_store, keys)
    try:
        yield running
    finally:
        for client in running.clients:
            client.close()
        service.close()
