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
read; no redirect is followed.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Callable, Sequence
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
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """``Retry-After`` (seconds, or an HTTP date) → seconds from ``now``, at most a day;
    None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
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
        # A lease covers connecting, sending and reading the answer, each within timeout.
        self.lease_seconds = 3 * timeout + 30
        self._clock = clock
        self._wall_time = wall_time
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            verify=ssl.create_default_context(),
            headers={"User-Agent": f"ftpbridge/{__version__}"},
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
        try:
            with self._client.stream("POST", self._url, content=body, headers=headers) as answer:
                received = b""
                for chunk in answer.iter_bytes():
                    received += chunk
                    if len(received) >= RESPONSE_BYTES:
                        break
                return classify(
                    answer.status_code,
                    answer.reason_phrase,
                    answer.headers,
                    received,
                    self.where,
                    self._clock(),
                )
        except httpx.TimeoutException:
            error = f"the webhook at {self.where} did not answer within {self.timeout:g} s"
        except httpx.TransportError as exc:
            error = f"the webhook at {self.where} could not be reached: {_first_line(exc)}"
        return Outcome("retry", error=error)

    def close(self) -> None:
        self._client.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
