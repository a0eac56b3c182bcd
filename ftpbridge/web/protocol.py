"""The HTTP/1.1 protocol the service speaks: uvicorn's httptools protocol (llhttp, in C)
with the request head bounded where it enters.

uvicorn's pure-Python h11 protocol bounded the head's size itself
(``h11_max_incomplete_event_size``) but cost about a third of a small request's time;
its httptools protocol bounds neither the head's size nor the time it takes. Here a
head (request line and headers) may be at most ``MAX_HEAD_BYTES`` and must arrive within
the head deadline (``[api] request_timeout_seconds``) from its first byte, and a new
connection must start its first request within that time: a client that trickles or
never finishes its headers is answered 431 or 408 and disconnected instead of holding a
connection and its memory for ever. The body has its own bounds (size and time, in
:mod:`ftpbridge.web.params`); between requests uvicorn's keep-alive timeout applies.

A head pipelined behind a request still being answered is neither timed nor refused
until that answer is written (reading pauses meanwhile): a refusal written then would
be read as the answer to the earlier request. Bytes of a head that arrive in the same
read as the end of the request before it are not counted: the bound is 64 KB and at
most one read (256 KB) more.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# Largest request head (request line and headers) held before the body; a client's
# browser-sized cookies and headers are a few KB.
MAX_HEAD_BYTES = 64 * 1024
# After a refusal, what the client still sends is read and dropped this long before the
# connection is closed: closing a socket with unread data makes the kernel send a reset,
# which can destroy the answer before the client reads it.
LINGER_SECONDS = 2.0


class BoundedHttpTools(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` with the head's size and time bounded (module doc)."""

    head_seconds: float = 30.0  # set per server: see bounded_protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._oversized = False
        self._start_head_clock()  # a connection that never sends is closed in time too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered and closing (see LINGER_SECONDS)
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_timer is None and not self._answering():
                self._start_head_clock()
        super().data_received(data)
        # Still in the head after taking these bytes (headers_complete resets the count).
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            if self._answering():  # a pipelined head: refused once the answer is written
                self._oversized = True
                self.flow.pause_reading()
            else:
                self._refuse_oversized()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._stop_head_clock()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # the next request's head, counted from its next bytes
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()  # resumes reading; starts a pipelined request
        if self.transport.is_closing() or self._answering():
            return
        if self._oversized:
            self._refuse_oversized()
        elif self._in_head and self._head_timer is None:
            self._start_head_clock()  # a head begun during the answer: its time from now

    def _answering(self) -> bool:
        """Whether an answer is being prepared or written on this connection: a pipelined
        head waits for it, neither its clock nor a refusal may cut into it."""
        return self.cycle is not None and not self.cycle.response_complete

    def _start_head_clock(self) -> None:
        self._head_timer = self.loop.call_later(self.head_seconds, self._head_too_slow)

    def _stop_head_clock(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing() or self._answering():
            return  # (answering: the clock starts again when the answer is complete)
        self._refuse(408, f"the request head did not arrive within {self.head_seconds:g} seconds")

    def _refuse_oversized(self) -> None:
        self._refuse(
            431, f"the request head (request line and headers) is over {MAX_HEAD_BYTES:,} bytes"
        )

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` with ``message`` (the API's error JSON) and disconnect."""
        self._stop_head_clock()
        body = json.dumps(
            {
                "status": "error",
                "reason": message,
                "hint": "send the request again, its headers short and without pausing",
            },
            separators=(",", ":"),
        ).encode("ascii")
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[status],
                    b"content-type: application/json\r\n",
                    b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
        )
        self._refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()


def bounded_protocol(head_seconds: float) -> type[BoundedHttpTools]:
    """The protocol class for one server, its head deadline ``head_seconds``."""

    class Protocol(BoundedHttpTools):
        pass

    Protocol.head_seconds = head_seconds
    return Protocol
