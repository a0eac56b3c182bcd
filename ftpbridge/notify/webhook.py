"""The webhook to the shop: one signed JSON POST per batch of events.

Body (UTF-8 JSON): ``{"events": [{"id", "type", "created_at", "partner", "order_id",
"item_id", "status", "shipped_date", "carrier", "tracking_number", "tracking_url",
"source"}, ...]}``, the events in the order they happened. ``id`` is the event's stable
id: a receiver that saw it already drops it (delivery is at least once).

Signature, the way the well-known webhook senders do it: the header
``Ftpbridge-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` with
``[notify] webhook_secret`` as the key. The receiver recomputes it over the bytes it got,
compares with ``hmac.compare_digest`` and refuses a ``t`` too far from its clock (replays).

Answers: 2xx delivered; 408, 429 and 5xx (and timeouts, refused or reset connections)
are tried again later, not before ``Retry-After``; any other status (4xx, or a redirect)
means the receiver refused the events: they are dead at once, with the status and the
first bytes of the answer kept for ops. At most :data:`RESPONSE_BYTES` of an answer are
kept (one network read more is read, never inflated: a gzip answer is inflated only up to
those bytes); no redirect is followed.

``[notify] timeout`` bounds the whole request (connecting, sending, the answer), not each
read: httpx's timeouts are per read, so a receiver trickling its answer a byte at a time
would hold the sender past its lease, and another replica would send the same events
again. :class:`Deadline` shuts the request's socket down when the time is up (httpx has
no total timeout; its maintainers point to doing it around the request: encode/httpx
issue 1450). Nothing a receiver sends makes :meth:`WebhookChannel.deliver` raise.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from ftpbridge import __version__
from ftpbridge.carriers import tracking_url
from ftpbridge.notify.outcomes import DELIVERED, RESPONSE_BYTES, Outcome, printable
from ftpbridge.store.outbox import Event

SIGNATURE_HEADER = "Ftpbridge-Signature"
RETRY_STATUSES = frozenset({408, 429})
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def event_json(event: Event) -> dict[str, Any]:
    """One event as the webhook sends it."""
    url = None
    if event.carrier and event.tracking_number:
        url = tracking_url(event.carrier, event.tracking_number)
    return {
        "id": event.event_id,
        "type": event.type,
        "created_at": iso(event.created_at),
        "partner": event.partner,
        "order_id": event.order_id,
        "item_id": event.item_id,
        "status": event.item_status,
        "shipped_date": event.shipped_date,
        "carrier": event.carrier,
        "tracking_number": event.tracking_number,
        "tracking_url": url,
        "source": event.source,
    }


def body_of(events: Sequence[Event]) -> bytes:
    """The POST body for ``events``: compact UTF-8 JSON."""
    document = {"events": [event_json(event) for event in events]}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``Ftpbridge-Signature`` header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def shown_url(url: str) -> str:
    """The webhook's address for logs and messages: scheme, host and port only (a path or
    query may hold a token)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[": a receiver's Location header may be anything
        return "an address that cannot be read"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """``Retry-After`` (seconds, or an HTTP date) → seconds from ``now``, at most a day;
    None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() is True too, and float() no
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER_SECONDS)


def classify(
    status: int, reason: str, headers: httpx.Headers, answer: bytes, where: str, now: dt.datetime
) -> Outcome:
    """The outcome of an HTTP answer (see the module doc)."""
    if 200 <= status < 300:
        return DELIVERED
    response = printable(answer)
    said = f"{status} {reason}".strip()
    if status in RETRY_STATUSES or status >= 500:
        return Outcome(
            "retry",
            status=status,
            error=f"the webhook at {where} answered {said}",
            response=response,
            retry_after=retry_after_seconds(headers.get("retry-after"), now),
        )
    if 300 <= status < 400:
        error = (
            f"the webhook at {where} answered {said} (a redirect to"
            f" {shown_url(headers.get('location', '')) or 'nowhere'}); ftpbridge does not follow"
            " redirects: set [notify] webhook_url to the final address"
        )
    else:
        error = f"the webhook at {where} refused the events: {said}"
    return Outcome("refused", status=status, error=error, response=response)


class WebhookChannel:
    """Delivers webhook events, a batch per POST. The secret is never shown (no repr)."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        timeout: float,
        batch_size: int,
        clock: Callable[[], dt.datetime],
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._secret = secret
        self.where = shown_url(url)
        self.timeout = timeout
        self.batch_size = batch_size
        # A POST ends within timeout (Deadline); the lease keeps a wide margin over it.
        self.lease_seconds = 3 * timeout + 30
        self._clock = clock
        self._wall_time = wall_time
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            verify=ssl.create_default_context(),
            headers={"User-Agent": f"ftpbridge/{__version__}", "Accept-Encoding": "identity"},
            # A connection of its own per POST: Deadline needs the socket, which only a
            # new connection hands over (one handshake per batch of up to batch_size events).
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        """POST ``events`` (one batch) and return one outcome per event (the same for all)."""
        body = body_of(events)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, int(self._wall_time()), body),
        }
        outcome = self._post(body, headers)
        return [outcome] * len(events)

    def _post(self, body: bytes, headers: dict[str, str]) -> Outcome:
        deadline = Deadline(self.timeout)
        answered = False  # the status and headers came
        try:
            with (
                deadline,
                self._client.stream(
                    "POST",
                    self._url,
                    content=body,
                    headers=headers,
                    extensions={"trace": deadline.trace},
                ) as answer,
            ):
                answered = True
                received = _first_bytes(answer, deadline)
                if received is None:
                    return self._late("did not finish its answer")
                return classify(
                    answer.status_code,
                    answer.reason_phrase,
                    answer.headers,
                    _inflated(received, answer.headers.get("content-encoding", "")),
                    self.where,
                    self._clock(),
                )
        except httpx.TransportError as exc:  # timeouts too
            if deadline.passed or isinstance(exc, httpx.TimeoutException):
                # a read or write past httpx's timeout, or the socket shut down by Deadline
                return self._late("did not finish its answer" if answered else "did not answer")
            error = f"the webhook at {self.where} could not be reached: {_first_line(exc)}"
        except Exception as exc:  # noqa: BLE001 - deliver never raises (Channel): a retry
            said = _first_line(exc).replace(self._url, self.where)  # a path may hold a token
            error = (
                f"the webhook at {self.where} gave an answer ftpbridge could not read"
                f" ({type(exc).__name__}: {said})"
            )
        return Outcome("retry", error=error)

    def _late(self, what: str) -> Outcome:
        return Outcome(
            "retry", error=f"the webhook at {self.where} {what} within {self.timeout:g} s"
        )

    def close(self) -> None:
        self._client.close()


class Deadline:
    """The whole time one request may take. Used as a context manager around it, with
    :meth:`trace` as its httpcore ``trace`` extension: when the time is up, the socket
    of the request's connection is shut down (both ways), which ends any read or write
    blocked on it at once; :attr:`passed` then says why the request failed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.passed = False
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """httpcore's trace callback: keep the new connection's socket. A duplicate of it,
        so that it stays valid when TLS wraps (and detaches) the original."""
        if name != "connection.connect_tcp.complete":
            return
        connected = info.get("return_value")
        original = connected.get_extra_info("socket") if connected is not None else None
        if not isinstance(original, socket.socket):
            return
        with self._lock:
            self._socket = original.dup()
            if self.passed:
                _shut(self._socket)

    def over(self) -> bool:
        return self.passed or time.monotonic() >= self.ends

    def _expire(self) -> None:
        with self._lock:
            self.passed = True
            if self._socket is not None:
                _shut(self._socket)


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


def _first_bytes(answer: httpx.Response, deadline: Deadline) -> bytes | None:
    """The answer's first bytes as sent (:data:`RESPONSE_BYTES`, one network read more at
    most); None when the deadline passed before they came."""
    received = b""
    for chunk in answer.iter_raw():
        received += chunk
        if len(received) >= RESPONSE_BYTES:
            break
        if deadline.over():
            return None
    return received


def _inflated(data: bytes, encoding: str) -> bytes:
    """A gzip or deflate answer's first :data:`RESPONSE_BYTES`, inflated no further (a
    small answer can inflate to gigabytes); as it came when not compressed or broken."""
    bits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
    wbits = bits.get(encoding.strip().lower())
    if wbits is None:
        return data
    try:
        return zlib.decompressobj(wbits).decompress(data, RESPONSE_BYTES)
    except zlib.error:
        return data


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
