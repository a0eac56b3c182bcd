"""Retries: which transport errors are worth another attempt, and the backoff between
attempts (``retrying``), reconnecting in between.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import structlog
import tenacity

from ftpbridge import deadlines
from ftpbridge.errors import TransportError

logger = structlog.get_logger()

# Exponential backoff between attempts for transient errors: 0.5 s, 1 s, 2 s ... capped.
RETRY_WAIT_INITIAL = 0.5
RETRY_WAIT_MAX = 30.0

T = TypeVar("T")


def is_transient(error: BaseException) -> bool:
    """Return True for errors worth another attempt (TransportError with ``transient``)."""
    return isinstance(error, TransportError) and bool(getattr(error, "transient", False))


def retrying(
    operation: Callable[[], T],
    *,
    attempts: int,
    what: str,
    where: str,
    on_retry: Callable[[], None],
) -> T:
    """Run ``operation``; retry transient TransportErrors with exponential backoff.

    ``on_retry`` runs before each new attempt (it drops the connection so the next
    attempt reconnects). Non-transient errors, and the last transient one, propagate.
    """

    def before_sleep(state: tenacity.RetryCallState) -> None:
        deadlines.check()  # no further attempt for a job past its deadline
        error = state.outcome.exception() if state.outcome else None
        logger.warning(
            "transient transport error, retrying",
            operation=what,
            server=where,
            attempt=state.attempt_number,
            of=attempts,
            error=str(error),
        )
        on_retry()

    retryer = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, attempts)),
        wait=tenacity.wait_exponential(multiplier=RETRY_WAIT_INITIAL, max=RETRY_WAIT_MAX),
        retry=tenacity.retry_if_exception(is_transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retryer(operation)
