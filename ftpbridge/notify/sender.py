"""The sender: delivers the outbox's due events through their channel, at least once.

One round (:meth:`Sender.send_once`), per channel: claim a batch (a short transaction
that leases the events, oldest first per order; see :mod:`ftpbridge.store.outbox`),
deliver it, record what each event got (another short transaction), and go on until no
event is due. A delivered event is marked so; a transient failure is tried again after
an exponential backoff (tenacity's wait functions: 30 s, 1 min, 2 min, ... at most an
hour, with a little jitter; never before the receiver's ``Retry-After``) until
``give_up_after`` has passed since the event began waiting, then it is dead; a refusal
(an HTTP 4xx, an SMTP 5xx) is dead at once. Dead events wait for ``notify retry``.

Crash safety: the process may die anywhere (``kill -9``; the crash points
``notify_claim``, ``notify_send`` and ``notify_mark`` of :mod:`ftpbridge.faults` stop it
after the claim, after the delivery and before its record is committed). Nothing is lost:
an event is marked delivered only after its delivery, so what was claimed and not
recorded is sent again (a receiver drops the duplicate by its id), as soon as the next
sender sees that the one holding the lease is gone.

The clock is given (``clock``): tests pass one that they move on, instead of waiting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog
import tenacity

from ftpbridge.errors import ConfigError
from ftpbridge.faults import crashpoint
from ftpbridge.notify.email import EmailChannel
from ftpbridge.notify.outcomes import Outcome
from ftpbridge.notify.templates import Templates
from ftpbridge.notify.webhook import WebhookChannel
from ftpbridge.settings import NotifySettings
from ftpbridge.store import Store
from ftpbridge.store.deliveries import Attempt, claim, new_holder, presence, prune, record
from ftpbridge.store.engine import utcnow
from ftpbridge.store.outbox import DEAD, DELIVERED, PENDING, Event

logger = structlog.get_logger()

FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
JITTER_SECONDS = 5.0
MIN_SECRET_LENGTH = 16
PRUNE_EVERY = dt.timedelta(hours=1)
_BACKOFF = tenacity.wait_exponential(
    multiplier=FIRST_RETRY_SECONDS, max=MAX_RETRY_SECONDS
) + tenacity.wait_random(0, JITTER_SECONDS)


def backoff_seconds(failures: int) -> float:
    """How long to wait after the ``failures``-th failure in a row (1, 2, ...)."""
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = max(1, failures)
    return float(_BACKOFF(state))


class Channel(Protocol):
    """A way out for one channel's events ("webhook", "email")."""

    name: str
    batch_size: int
    lease_seconds: float

    def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        """Try to deliver ``events``; one outcome per event, in their order. Never raises
        for a failure of the receiver (that is an outcome)."""
        ...

    def close(self) -> None: ...


@dataclass
class SendReport:
    """What one round did: events delivered, to be tried again, dead; the distinct
    errors met (for people, at most ten)."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, state: str, error: str | None) -> None:
        if state == DELIVERED:
            self.delivered += 1
        elif state == DEAD:
            self.dead += 1
        else:
            self.retrying += 1
        if error and error not in self.errors and len(self.errors) < 10:
            self.errors.append(error)


class Sender:
    """Delivers the outbox's events through ``channels`` (see the module doc)."""

    def __init__(
        self,
        store: Store,
        channels: Sequence[Channel],
        *,
        give_up_after: float,
        keep_delivered_days: int = 30,
        clock: Callable[[], dt.datetime] = utcnow,
        holder: str | None = None,
    ) -> None:
        self.store = store
        self.channels = tuple(channels)
        self.give_up_after = dt.timedelta(seconds=give_up_after)
        self.keep_delivered = dt.timedelta(days=keep_delivered_days)
        self.clock = clock
        self.holder = holder or new_holder()
        self._pruned_at: dt.datetime | None = None

    def send_once(self, *, stop: Callable[[], bool] = lambda: False) -> SendReport:
        """Deliver every event due now, channel by channel, until none is left or ``stop()``
        says so; then (once an hour) delete delivered events older than
        ``keep_delivered_days``."""
        report = SendReport()
        with presence(self.store, self.holder):
            for channel in self.channels:
                delivered = report.delivered
                while not stop() and self._one_batch(channel, report):
                    pass
                if report.delivered > delivered:
                    logger.info(
                        "events delivered",
                        channel=channel.name,
                        events=report.delivered - delivered,
                    )
        now = self.clock()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            with self.store.begin() as connection:
                prune(connection, now - self.keep_delivered)
            self._pruned_at = now
        return report

    def _one_batch(self, channel: Channel, report: SendReport) -> bool:
        """Claim, deliver and record one batch; False when nothing was due."""
        now = self.clock()
        with self.store.begin() as connection:
            events = claim(
                connection,
                channel=channel.name,
                limit=channel.batch_size,
                now=now,
                holder=self.holder,
                lease_until=now + dt.timedelta(seconds=channel.lease_seconds),
            )
        if not events:
            return False
        crashpoint("notify_claim")
        outcomes = channel.deliver(events)
        crashpoint("notify_send")
        now = self.clock()
        attempts = [
            self._attempt(event, outcome, now)
            for event, outcome in zip(events, outcomes, strict=True)
        ]
        with self.store.begin() as connection:
            record(connection, attempts, now, self.holder)
            crashpoint("notify_mark")
        for attempt in attempts:
            report.add(attempt.state, attempt.error)
        _log(channel.name, events, attempts)
        return True

    def _attempt(self, event: Event, outcome: Outcome, now: dt.datetime) -> Attempt:
        """What to record for ``event`` after ``outcome``: delivered, dead, or when to try
        again (backoff, not before Retry-After, not after the give-up time)."""
        status, error, response = outcome.status, outcome.error, outcome.response
        if outcome.kind == "delivered":
            return Attempt(event.id, DELIVERED, status=status)
        if outcome.kind == "refused":
            return Attempt(event.id, DEAD, status=status, error=error, response=response)
        give_up_at = event.pending_since + self.give_up_after
        if now >= give_up_at:
            error = f"{error}; given up after {_duration(self.give_up_after)}"
            return Attempt(event.id, DEAD, status=status, error=error, response=response)
        wait = backoff_seconds(event.attempts + 1)
        if outcome.retry_after is not None:
            wait = max(wait, outcome.retry_after)
        when = min(now + dt.timedelta(seconds=wait), give_up_at)
        return Attempt(
            event.id, PENDING, next_attempt_at=when, status=status, error=error, response=response
        )

    def close(self) -> None:
        for channel in self.channels:
            channel.close()


def _duration(value: dt.timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours:g} h" if hours >= 1 else f"{value.total_seconds() / 60:g} min"


def _log(channel: str, events: Sequence[Event], attempts: Sequence[Attempt]) -> None:
    dead = [a for a in attempts if a.state == DEAD]
    retrying = [a for a in attempts if a.state == PENDING]
    if retrying:
        first = retrying[0]
        logger.warning(
            "delivery failed; it will be tried again",
            channel=channel,
            events=len(retrying),
            error=first.error,
            status=first.status,
            next_attempt_at=first.next_attempt_at.isoformat() if first.next_attempt_at else None,
        )
    if dead:
        logger.error(
            "delivery given up: events dead (ftpbridge notify list --dead; notify retry)",
            channel=channel,
            events=len(dead),
            error=dead[0].error,
            status=dead[0].status,
            event_ids=[
                e.event_id for e, a in zip(events, attempts, strict=True) if a.state == DEAD
            ][:10],
        )


def build_sender(
    store: Store, notify: NotifySettings, *, clock: Callable[[], dt.datetime] = utcnow
) -> Sender:
    """The sender for the configured channels; ConfigError when one cannot work (no
    webhook secret, an e-mail template that does not render)."""
    channels: list[Channel] = []
    if notify.webhook_url is not None:
        secret = notify.secret_webhook_key()
        if not secret:
            raise ConfigError(
                "[notify] webhook_url is set but no webhook_secret: the webhook's requests"
                " must be signed",
                hint="set [notify] webhook_secret (or webhook_secret_file, the environment"
                " variable FTPBRIDGE_NOTIFY__WEBHOOK_SECRET, or the systemd credential"
                " webhook-secret); make one with: python3 -c 'import secrets;"
                " print(secrets.token_hex(32))'",
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"[notify] webhook_secret is {len(secret)} characters; at least"
                f" {MIN_SECRET_LENGTH} are needed for a signature nobody can guess",
                hint="make one with: python3 -c 'import secrets; print(secrets.token_hex(32))'",
            )
        channels.append(
            WebhookChannel(
                notify.webhook_url,
                secret.encode("utf-8"),
                timeout=notify.timeout,
                batch_size=notify.batch_size,
                clock=clock,
            )
        )
    if notify.email.host is not None:
        templates = Templates(notify.email.templates_path)
        templates.check()
        channels.append(
            EmailChannel(notify.email, notify.email.secret_password(), templates, clock=clock)
        )
    if not channels:
        raise ConfigError(
            "nothing to send to: neither [notify] webhook_url nor [notify.email] host is set",
            hint="set them in the config file (see config.example.toml, [notify])",
        )
    return Sender(
        store,
        channels,
        give_up_after=notify.give_up_after,
        keep_delivered_days=notify.keep_delivered_days,
        clock=clock,
    )
