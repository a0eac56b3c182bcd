"""A webhook receiver that fails on purpose: a real HTTP server in a process of its own.

    python -m tests.notify.receiver --ready PATH --log PATH [--delay SECONDS]

It listens on a free 127.0.0.1 port (written to ``--ready`` once it listens) and answers
``POST /hook``: by default 200, or as the plan says for the next requests, in order. A
test sets the plan with ``POST /_control`` and a JSON body ``{"plan": [...], "delay": s}``;
each plan entry is one of

- ``{"status": 500}`` (any status; ``"body"`` and ``"retry_after"`` optional),
- ``{"hang": 3}``: answer 200 only after 3 s (past the sender's timeout; logged at once),
- ``{"reset": true}``: read the request and reset the connection (TCP RST, no answer).

``delay`` makes every answer wait that long (to keep requests in flight side by side).
Every hook request is one JSON line in ``--log``: its number, when it arrived and was
answered (this process's monotonic clock), the raw body, the signature header and what
was answered (``200``, ``500``, ``"reset"``, ``"late"``).
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_BODY = 64 * 1024 * 1024


class State:
    def __init__(self, log: Path) -> None:
        self.lock = threading.Lock()
        self.plan: list[dict[str, Any]] = []
        self.delay = 0.0
        self.count = 0
        self.log = log.open("a", encoding="utf-8")

    def next_answer(self) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.count += 1
            return self.count, (self.plan.pop(0) if self.plan else {})

    def write(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.log.write(json.dumps(record) + "\n")
            self.log.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The answer's headers and body go out in separate writes: without this, Nagle's
    # algorithm and the client's delayed ACK hold each answer back about 40 ms.
    disable_nagle_algorithm = True
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, MAX_BODY))

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_POST(self) -> None:
        state = self.server.state
        if self.path == "/_control":
            control = json.loads(self._body() or b"{}")
            with state.lock:
                state.plan = list(control.get("plan", []))
                state.delay = float(control.get("delay", 0.0))
            self._answer(204)
            return
        if self.path != "/hook":
            self._answer(404, b"no such path")
            return
        arrived = time.monotonic()
        raw = self._body()
        number, entry = state.next_answer()
        record = {
            "n": number,
            "arrived": arrived,
            "body": raw.decode("utf-8"),
            "signature": self.headers.get("Ftpbridge-Signature"),
            "content_type": self.headers.get("Content-Type"),
            "user_agent": self.headers.get("User-Agent"),
        }
        if state.delay:
            threading.Event().wait(state.delay)
        if entry.get("reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            state.write({**record, "answered": time.monotonic(), "answer": "reset"})
            self.connection.close()
            return
        if entry.get("hang"):
            # Written at once: the test reads the log before this answer goes out.
            state.write({**record, "answered": None, "answer": "late"})
            threading.Event().wait(float(entry["hang"]))
            try:
                self._answer(200, b"ok")
            except OSError:
                pass
            return
        status = int(entry.get("status", 200))
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if "retry_after" in entry:
            headers["Retry-After"] = str(entry["retry_after"])
        if "location" in entry:
            headers["Location"] = entry["location"]
        body = str(entry.get("body", "ok" if status < 300 else f"status {status}")).encode()
        state.write({**record, "answered": time.monotonic(), "answer": status})
        self._answer(status, body, headers)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: State) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = state


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    arguments = parser.parse_args()
    server = Server(State(arguments.log))
    temporary = arguments.ready.with_suffix(".tmp")
    temporary.write_text(str(server.server_address[1]), encoding="utf-8")
    temporary.rename(arguments.ready)
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
