"""What one attempt to deliver an event got, as a channel reports it to the sender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RESPONSE_BYTES = 500  # the receiver's answer kept for ops (first bytes, decoded)


@dataclass(frozen=True)
class Outcome:
    """``delivered``; ``retry`` (a transient failure: timeout, reset, 408, 429, 5xx, an SMTP
    4xx), after ``retry_after`` seconds at the earliest when the receiver asked; ``refused``
    (permanent: another 4xx, an SMTP 5xx; retrying would not help, the event is dead at
    once). ``status``: the HTTP status or SMTP code; ``error``: for people; ``response``:
    the first bytes of the receiver's answer."""

    kind: Literal["delivered", "retry", "refused"]
    status: int | None = None
    error: str | None = None
    response: str | None = None
    retry_after: float | None = None


DELIVERED = Outcome("delivered")


def printable(data: bytes, limit: int = RESPONSE_BYTES) -> str:
    """The first ``limit`` bytes of an answer as text for people: UTF-8 (broken bytes
    replaced), control characters but newlines and tabs shown as spaces."""
    text = data[:limit].decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() or c in "\n\t" else " " for c in text)
