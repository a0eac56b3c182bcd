"""Deadlines of jobs: no export or poll may run for ever (issue 11 item 5, issue 12 item 2).

A job runs inside ``job_deadline(partner, job, allowance)``: a lease of ``allowance``
seconds that the work renews as it makes progress (``renew``: a transport attempt, a block
of a transfer, an import). A job whose lease runs out is *past its deadline*: stuck in a
call that does not come back. Code that loops calls ``check()``, which raises
:class:`~ftpbridge.errors.DeadlineError` there; a job blocked where nothing checks is seen
by whoever watches ``running()`` (the daemon's watchdog: it logs, counts a failure, and
stops pinging systemd so that the service is restarted).

The lease lives in a context variable (the job's thread), and in a process-wide registry
for the watcher. Outside a job (a command run by hand) ``renew`` and ``check`` do nothing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from ftpbridge.errors import DeadlineError


@dataclass
class Deadline:
    """One running job's lease: ``ends`` (time.monotonic) moves on as the job progresses."""

    partner: str
    job: str
    allowance: float
    started: float = field(default_factory=time.monotonic)
    ends: float = 0.0
    reported: bool = False  # the watcher already said this job is past its deadline

    def __post_init__(self) -> None:
        self.ends = self.started + self.allowance

    def renew(self, seconds: float) -> None:
        """The job made progress: it may run ``seconds`` more from now (never less than
        it had)."""
        self.ends = max(self.ends, time.monotonic() + seconds)

    def overdue(self, now: float | None = None) -> float:
        """Seconds past the deadline (0 or less: not past it)."""
        return (time.monotonic() if now is None else now) - self.ends


_current: ContextVar[Deadline | None] = ContextVar("ftpbridge_deadline", default=None)
_registry: dict[int, Deadline] = {}
_lock = threading.Lock()


@contextlib.contextmanager
def job_deadline(partner: str, job: str, allowance: float) -> Iterator[Deadline]:
    """Run the block as the job (``partner``, ``job``) with a lease of ``allowance``
    seconds, registered for the watcher until the block ends."""
    deadline = Deadline(partner, job, allowance)
    token = _current.set(deadline)
    with _lock:
        _registry[id(deadline)] = deadline
    try:
        yield deadline
    finally:
        with _lock:
            _registry.pop(id(deadline), None)
        _current.reset(token)


def current() -> Deadline | None:
    """The lease of the job running in this context, if any."""
    return _current.get()


def renew(seconds: float) -> None:
    """Progress: the current job (if any) may run ``seconds`` more from now."""
    deadline = _current.get()
    if deadline is not None:
        deadline.renew(seconds)


def check() -> None:
    """Raise DeadlineError when the current job is past its deadline (else nothing)."""
    deadline = _current.get()
    if deadline is not None and deadline.overdue() > 0:
        raise DeadlineError(
            f"{deadline.partner}: the {deadline.job} made no progress for"
            f" {deadline.allowance:g} s and was stopped (past its deadline)",
            hint="the server stopped answering in a way no timeout caught; it is tried"
            " again at the next run",
        )


def running() -> list[Deadline]:
    """Every job running now (a snapshot)."""
    with _lock:
        return list(_registry.values())
