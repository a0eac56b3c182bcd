"""A partner's job as the service runs it: one export, poll or inventory cycle under the
partner's job lock (one replica at a time), never raising, its outcome recorded in the
store, and an ``alert`` logged after ``alert_after`` failures in a row.

``ftpbridge run`` (``daemon``) and ``ftpbridge demo`` run their jobs through ``run_job``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from ftpbridge.errors import AlreadyDoneError, FtpbridgeError
from ftpbridge.exchange.export import export_and_upload
from ftpbridge.exchange.inventory import poll_inventory_once
from ftpbridge.exchange.poll import poll_once
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.locks import job_lock
from ftpbridge.store.state import job_finished

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
