"""Notification tests: a webhook receiver that fails on purpose, as a process of its own
(``tests/notify/receiver.py``), a clock the tests move on, and shipments to send.

Partners (tests/conftest.py): ``acme`` takes every item but warehouse SKUs ``AC-*``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ftpbridge.files.importing import import_file
from ftpbridge.files.layouts import load_layout
from ftpbridge.notify.sender import Sender, build_sender
from ftpbridge.settings import Settings, build_settings
from ftpbridge.store import Store
from ftpbridge.store.outbox import Notify
from tests.notify.mailserver import PASSWORD, USER, MailServer
from tests.servers import CertificateFiles, make_certificate, wait_for

REPOSITORY = Path(__file__).resolve().parents[2]
SECRET = "whsec-test-7f3a9c2e51b84d06a1e2"
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
UPS = ["1Z5R89390357567127", "1Z879E930346834440"]
HEADER = "order_id,item_id,shipped,shipped_date,carrier,tracking_number\r\n"


class Receiver:
    """The receiver process (see receiver.py); ``url`` is its hook."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / "receiver.jsonl"
        ready = folder / "receiver.port"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.notify.receiver", "--ready", str(ready),
             "--log", str(self.log)],
            cwd=REPOSITORY,
            env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        )  # fmt: skip
        port = wait_for(lambda: ready.exists() and ready.read_text(), "the receiver to listen")
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/hook"

    def plan(self, entries: list[dict[str, Any]], *, delay: float = 0.0) -> None:
        """The receiver's next answers, in order (then 200s); ``delay`` before each."""
        answer = httpx.post(f"{self.base}/_control", json={"plan": entries, "delay": delay})
        assert answer.status_code == 204

    def release(self) -> None:
        """Let the answers held by a ``{"hold": true}`` entry go (200)."""
        answer = httpx.post(f"{self.base}/_control", json={"release": True})
        assert answer.status_code == 204

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def answered(self, answer: Any = 200) -> list[dict[str, Any]]:
        return [request for request in self.requests() if request["answer"] == answer]

    def delivered_ids(self) -> list[str]:
        """The ids of every event in a request the receiver answered 200, in order."""
        return [
            event["id"]
            for request in self.answered(200)
            for event in json.loads(request["body"])["events"]
        ]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    running = Receiver(tmp_path / "receiver")
    try:
        yield running
    finally:
        running.stop()


class Clock:
    """The time the sender sees; tests move it on instead of waiting."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def notify_settings(url: str, **extra: Any) -> Settings:
    """Settings with the two partners and [notify] pointing at ``url``."""
    notify = {"webhook_url": url, "webhook_secret": SECRET, "timeout": 1, **extra}
    return build_settings(
        {
            "partners": {"acme": {"default": True}, "ac": {"skus": ["AC-*"]}},
            "notify": notify,
        }
    )


def sender_for(store: Store, url: str, clock: Clock, **extra: Any) -> Sender:
    return build_sender(store, notify_settings(url, **extra).notify, clock=clock)


WEBHOOK = Notify(webhook=True)


def ship(
    store: Store,
    folder: Path,
    lines: list[tuple[str, str]],
    *,
    name: str = "",
    notify: Notify = WEBHOOK,
    now: dt.datetime = NOW,
) -> int:
    """Import a file of acme's shipping (order, item) pairs with UPS; returns its file id."""
    settings = build_settings({"partners": {"acme": {"default": True}, "ac": {"skus": ["AC-*"]}}})
    name = name or f"orders_updated_{len(list(folder.glob('*.csv')))}.csv"
    path = folder / name
    path.write_text(
        HEADER
        + "".join(
            f"{order},{item},TRUE,2026-11-22,UPS,{UPS[number % 2]}\r\n"
            for number, (order, item) in enumerate(lines)
        ),
        encoding="utf-8",
    )
    result = import_file(store, settings.partners["acme"], load_layout("default"), path,
                         now=now, notify=notify)  # fmt: skip
    assert result.applied == len(lines), (result.status, result.message)
    assert result.file_id is not None
    return result.file_id


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """A CA and a certificate for 127.0.0.1 it signed (the SMTP server's)."""
    return make_certificate(tmp_path_factory.mktemp("smtp-certificates"))


@pytest.fixture
def mail_server(certificates: CertificateFiles) -> Iterator[MailServer]:
    """A real SMTP server on 127.0.0.1 requiring STARTTLS and a login (mailserver.py)."""
    server = MailServer("starttls", certificates.cert_file)
    try:
        yield server
    finally:
        server.stop()


def email_settings(server: MailServer, certificates: CertificateFiles, **extra: Any) -> Settings:
    """Settings whose [notify.email] sends through ``server`` (no webhook)."""
    email = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": USER,
        "password": PASSWORD,
        "from": "Example Shop <shop@example.com>",
        "reply_to": "help@example.com",
        "ca_file": str(certificates.ca_file),
        "timeout": 5,
        **extra,
    }
    return build_settings(
        {
            "partners": {"acme": {"default": True, "notify_customers": True},
                         "ac": {"skus": ["AC-*"]}},
            "notify": {"email": email},
        }
    )  # fmt: skip


EMAIL = Notify(email=True)
