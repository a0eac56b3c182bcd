"""A partner's job as the service runs it: one export, poll or inventory cycle under the
partner's job lock (one replica at a time), never raising, its outcome recorded in the
store, and an ``alert`` logged after ``alert_after`` failures in a row.

Every cycle runs with a deadline (``ftpbridge.deadlines``): a lease of
``ATTEMPT_TIMEOUTS`` x the partner's ``timeout``, renewed by each transport attempt, each
block a transfer receives and, before an import, by the time its file's size allows. A job
whose lease runs out is stuck where no timeout reaches; ``past_deadline`` is what the
daemon's watcher does about it (the log, a failure counted, an alert).

``ftpbridge run`` (``daemon``) and ``ftpbridge demo`` run their jobs through ``run_job``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import structlog

from ftpbridge import deadlines, metrics
from ftpbridge.errors import AlreadyDoneError, FtpbridgeError
from ftpbridge.exchange.export import export_and_upload
from ftpbridge.exchange.inventory import poll_inventory_once
from ftpbridge.exchange.poll import poll_once
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.locks import job_lock
from ftpbridge.store.state import job_finished
from ftpbridge.transport.base import ATTEMPT_TIMEOUTS

logger = structlog.get_logger()


def run_job(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    job: str,
    *,
    replica: str,
    stop: Callable[[], bool] = lambda: False,
) -> bool | None:
    """Run one export or poll cycle under its job lock, log it, record it; never raise.

    Returns True when the cycle ran, False when it failed (the failure is counted; after
    ``alert_after`` failures in a row an ``alert`` event is logged at error level), and None
    when another replica holds the partner's lock for this job (nothing is recorded).
    """
    with structlog.contextvars.bound_contextvars(partner=partner.name, job=job):
        try:
            with job_lock(store, partner.name, job) as locked:
                if not locked:
                    logger.debug(f"{job} is running on another replica; not running it here")
                    return None
                return _run_locked(store, settings, partner, job, replica=replica, stop=stop)
        except FtpbridgeError as exc:  # the lock itself could not be taken
            logger.warning(f"{job} not run: cannot take its lock", error=exc.message)
            return False


def _run_locked(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    job: str,
    *,
    replica: str,
    stop: Callable[[], bool],
) -> bool:
    """``run_job`` once its lock is held: True when the cycle worked."""
    started = time.monotonic()
    error: str | None = None
    try:
        with deadlines.job_deadline(partner.name, job, ATTEMPT_TIMEOUTS * partner.timeout):
            if job == "export":
                outcome = export_and_upload(store, settings, partner)
            elif job == "inventory":
                outcome = poll_inventory_once(store, settings, partner, stop=stop)
            else:
                outcome = poll_once(store, settings, partner, stop=stop)
        logger.info(
            f"{job} finished",
            seconds=round(time.monotonic() - started, 3),
            summary=outcome.summary,
        )
    except AlreadyDoneError as exc:
        logger.info("export skipped", reason=exc.message)
    except FtpbridgeError as exc:
        error = exc.message
        logger.warning(f"{job} failed", error=exc.message, hint=exc.hint)
    except Exception as exc:  # a job must never kill the daemon
        error = f"{type(exc).__name__}: {exc}"
        logger.exception(f"{job} failed unexpectedly")
    return _record(store, partner, job, error, replica)


def record_by_hand(store: Store, partner: PartnerSettings, job: str, error: str | None) -> bool:
    """Record a cycle run by hand (``ftpbridge poll`` from cron) like the service's own:
    ``status`` counts a successful one as a poll, and failures count up to an alert."""
    import os
    import socket

    return _record(store, partner, job, error, f"{socket.gethostname()}:{os.getpid()} (by hand)")


def _record(
    store: Store, partner: PartnerSettings, job: str, error: str | None, replica: str
) -> bool:
    """Record how the job went; the ``alert`` after ``alert_after`` failures in a row.
    True when it worked."""
    try:
        with store.begin() as connection:
            failures = job_finished(
                connection, partner.name, job, utcnow(), error=error, replica=replica
            )
    except FtpbridgeError as exc:
        logger.error("cannot record the job's outcome in the store", error=exc.message)
        return error is None
    if error is not None and failures >= partner.alert_after:
        logger.error(
            "alert",
            failures=failures,
            alert_after=partner.alert_after,
            last_error=error,
            message=f"{partner.name}: {job} failed {failures} times in a row",
        )
    return error is None


def past_deadline(
    store: Store, partner: PartnerSettings, deadline: deadlines.Deadline, *, replica: str
) -> None:
    """A job is past its deadline (seen by the daemon's watcher while it still runs):
    logged, counted as a failure of that job, and alerted like any failure. The job's
    thread cannot be stopped from outside; when it ends, its own outcome is recorded."""
    with structlog.contextvars.bound_contextvars(partner=partner.name, job=deadline.job):
        error = (
            f"the {deadline.job} made no progress for {deadline.allowance:g} s (past its"
            " deadline): stuck in a call that does not come back"
        )
        logger.error(
            "job past its deadline",
            running_seconds=round(time.monotonic() - deadline.started),
            allowance_seconds=deadline.allowance,
        )
        _record(store, partner, deadline.job, error, replica)


def watch_deadlines(
    store: Store, partners: Mapping[str, PartnerSettings], *, replica: str
) -> list[str]:
    """Look at every running job: one newly past its deadline is ``past_deadline``; one
    past it by as long again as its allowance is wedged. Returns the wedged jobs
    ("poll acme"), for the daemon, which then stops pinging systemd's watchdog."""
    wedged = []
    for deadline in deadlines.running():
        late = deadline.overdue()
        if late <= 0:
            continue
        if not deadline.reported:
            deadline.reported = True
            partner = partners.get(deadline.partner)
            if partner is not None:
                past_deadline(store, partner, deadline, replica=replica)
            metrics.job_ran(deadline.partner, deadline.job, False)
        if late > deadline.allowance:
            wedged.append(f"{deadline.job} {deadline.partner}")
    return wedged
