"""A webhook receiver that fails on purpose: a real HTTP server in a process of its own.

    python -m tests.notify.receiver --ready PATH --log PATH [--delay SECONDS]

It listens on a free 127.0.0.1 port (written to ``--ready`` once it listens) and answers
``POST /hook``: by default 200, or as the plan says for the next requests, in order. A
test sets the plan with ``POST /_control`` and a JSON body ``{"plan": [...], "delay": s}``;
each plan entry is one of

- ``{"status": 500}`` (any status; ``"body"``, ``"retry_after"`` (any text, e.g. "²")
  and ``"location"`` optional),
- ``{"hang": 3}``: answer 200 only after 3 s (past the sender's timeout; logged at once),
- ``{"reset": true}``: read the request and reset the connection (TCP RST, no answer),
- ``{"hold": true}``: logged at once (answer ``"held"``), answered 200 only once a test
  posts ``{"release": true}`` to ``/_control`` (then logged again, answer 200),
- ``{"trickle": 0.5, "bytes": 200, "phase": "headers"}``: a 200 answer of ``bytes``
  bytes sent one byte every 0.5 s, from its status line (``"headers"``) or from its body
  (``"body"``: the headers at once); logged when it ends (answer ``"trickle"``, ``sent``:
  the bytes that went out before the client hung up, or all of them),
- ``{"gzip_bomb": 256}``: 500 with ``Content-Encoding: gzip`` and a body that inflates
  to that many MB of zeros (a few hundred KB as sent).

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
import zlib
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
        self.release = threading.Event()
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
            if control.get("release"):
                state.release.set()
                self._answer(204)
                return
            with state.lock:
                state.plan = list(control.get("plan", []))
                state.delay = float(control.get("delay", 0.0))
                state.release.clear()
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
        if entry.get("hold"):
            state.write({**record, "answered": None, "answer": "held"})
            state.release.wait(120)  # a cap, so that a test that forgets never hangs this
            state.write({**record, "answered": time.monotonic(), "answer": 200})
            self._answer(200, b"ok")
            return
        if entry.get("trickle"):
            sent = self._trickle(entry)
            state.write({**record, "answered": time.monotonic(), "answer": "trickle", "sent": sent})
            return
        if entry.get("gzip_bomb"):
            state.write({**record, "answered": time.monotonic(), "answer": 500})
            self._answer(500, _bomb(int(entry["gzip_bomb"])), {"Content-Encoding": "gzip"})
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

    def _trickle(self, entry: dict[str, Any]) -> int:
        """Send a 200 answer one byte at a time (the receiver's own pace); the bytes sent
        before the client went away."""
        size = int(entry.get("bytes", 200))
        interval = float(entry["trickle"])
        if entry.get("phase", "headers") == "body":
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.flush()
            answer = b"x" * size
        else:
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Padding: "
            answer = head + b"x" * max(0, size - len(head) - 6) + b"\r\n\r\nok"
        self.close_connection = True
        pause = threading.Event()  # never set: the pause between bytes
        for sent in range(len(answer)):
            try:
                self.connection.sendall(answer[sent : sent + 1])
            except OSError:
                return sent
            pause.wait(interval)
        return len(answer)


def _bomb(megabytes: int) -> bytes:
    """A gzip stream of ``megabytes`` MB of zeros (about 1 KB per MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(2**20)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


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
