"""The outbox at scale (issue 15), beside its floors.

- import with webhook events: the benchmark's all-shipped file through ``import_file``
  writing one outbox event per row in the same transaction, beside the same import
  without events (the ``import`` row): what the outbox costs an import.
- notify send: ``Sender.send_once`` delivering N webhook events to a local receiver
  (claim, sign and POST a batch of 100, record), beside the receiver alone: the same
  bodies, built and signed beforehand, POSTed by one httpx client one after the other,
  no store. Both in events per second.

The receiver (``python -m bench.notify --serve READY``) is a plain ``http.server`` in a
process of its own that reads each body and answers 200 (HTTP/1.1 keep-alive).

``python -m bench.notify --events 20000`` runs the send row alone on a fresh store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SECRET = "bench-webhook-secret-0123456789"  # noqa: S105 - the local receiver's, not a secret
BATCH = 100


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The answer's headers and body go out in separate writes: without this, Nagle's
    # algorithm and the client's delayed ACK hold each answer back about 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def serve(ready: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    temporary = ready.with_suffix(".tmp")
    temporary.write_text(str(server.server_address[1]), encoding="utf-8")
    temporary.rename(ready)
    server.serve_forever(poll_interval=0.1)


class Receiver:
    """The receiver process; ``url`` is where it listens."""

    def __init__(self, folder: Path) -> None:
        ready = folder / "receiver.port"
        ready.unlink(missing_ok=True)
        root = Path(__file__).resolve().parents[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.notify", "--serve", str(ready)],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        deadline = time.monotonic() + 30
        while not ready.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the benchmark's receiver did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{ready.read_text(encoding='utf-8')}/hook"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def import_with_events(
    work: Path, database: Path, path: Path, now: dt.datetime, report: Path
) -> dict[str, Any]:
    """``import_file`` as the import row runs it, writing a webhook event per row."""
    from bench.steps import settings_for
    from ftpbridge.exchange.partners import partner_layout
    from ftpbridge.files.importing import import_file
    from ftpbridge.store import open_store
    from ftpbridge.store.outbox import Notify

    settings = settings_for(work, database)
    partner = settings.partners["acme"]
    store = open_store(settings.store_url)
    start = time.perf_counter()
    result = import_file(store, partner, partner_layout(settings, partner), path, now=now,
                         report_path=report, max_file_bytes=1 << 40,
                         notify=Notify(webhook=True))  # fmt: skip
    seconds = time.perf_counter() - start
    with store.connect() as connection:
        events = connection.exec_driver_sql("SELECT count(*) FROM outbox").scalar()
    store.close()
    return {"seconds": seconds, "status": result.status, "applied": result.applied,
            "events": events}  # fmt: skip


def send_all(work: Path, database: Path, url: str) -> dict[str, Any]:
    """Deliver every pending event (ours), then POST the same bodies alone (the floor)."""
    import httpx

    from ftpbridge.logs import configure_logging
    from ftpbridge.notify.sender import build_sender
    from ftpbridge.notify.webhook import body_of, sign
    from ftpbridge.settings import build_settings
    from ftpbridge.store import open_store
    from ftpbridge.store.outbox import pending

    notify = {"webhook_url": url, "webhook_secret": SECRET, "batch_size": BATCH}
    settings = build_settings({"store": {"url": f"sqlite:///{database}"}, "notify": notify})
    configure_logging(level="warning")
    store = open_store(settings.store_url)
    with store.connect() as connection:
        events = pending(connection, limit=10_000_000)
    bodies = [body_of(events[start : start + BATCH]) for start in range(0, len(events), BATCH)]
    sender = build_sender(store, settings.notify)
    start = time.perf_counter()
    report = sender.send_once()
    seconds = time.perf_counter() - start
    sender.close()
    store.close()
    secret = SECRET.encode()
    with httpx.Client(timeout=30) as client:
        start = time.perf_counter()
        for body in bodies:
            headers = {"Content-Type": "application/json",
                       "Ftpbridge-Signature": sign(secret, int(time.time()), body)}  # fmt: skip
            client.post(url, content=body, headers=headers).raise_for_status()
        floor = time.perf_counter() - start
    return {"seconds": seconds, "floor_seconds": floor, "events": len(events),
            "delivered": report.delivered, "failed": report.retrying + report.dead,
            "posts": len(bodies)}  # fmt: skip


def send_bench(work: Path, events: int) -> dict[str, Any]:
    """A fresh store with ``events`` shipped lines (webhook events), then :func:`send_all`."""
    from bench.data import build_store, write_shipped_file
    from bench.isolated import run_isolated
    from bench.steps import export_ours

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    database = work / "notify.db"
    build_store(database, events, now)
    folder = work / "notify-export"
    folder.mkdir()
    exported = export_ours(work, database, folder, now)
    shipped = work / "notify_updated.csv"
    write_shipped_file(Path(exported["path"]), shipped, now.date())
    imported = run_isolated(import_with_events, work=work, database=database, path=shipped,
                            now=now, report=work / "notify.report.csv")  # fmt: skip
    receiver = Receiver(work)
    try:
        sent = run_isolated(send_all, work=work, database=database, url=receiver.url)
    finally:
        receiver.stop()
    return {**sent, "import": imported}  # sent has the sender's peak_rss_mb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.notify", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=20_000, help="events to deliver (20,000)")
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.serve is not None:
        serve(arguments.serve)
        return 0
    work = Path(tempfile.mkdtemp(prefix="ftpbridge-bench-notify-"))
    try:
        result = send_bench(work, arguments.events)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours = result["events"] / result["seconds"]
    floor = result["events"] / result["floor_seconds"]
    print(
        f"notify send: {result['events']:,} events in {result['seconds']:.2f} s"
        f" ({ours:,.0f} events/s, {result['posts']:,} POSTs); the receiver alone:"
        f" {result['floor_seconds']:.2f} s ({floor:,.0f} events/s); failed {result['failed']}"
    )
    return 0 if result["delivered"] == result["events"] and not result["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
