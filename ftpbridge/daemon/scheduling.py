"""Scheduling: every partner's export, poll and inventory jobs (APScheduler), today's export
run at start-up when it was missed, a failed export retried with backoff until the partner's
day ends, the daily removal of old local copies, and the watcher's job."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import structlog
from apscheduler.events import JobExecutionEvent
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ftpbridge import metrics, sdnotify
from ftpbridge.daemon.services import Services
from ftpbridge.daemon.watcher import WATCH_SECONDS, Watcher
from ftpbridge.errors import ConfigError, FtpbridgeError, StoreError
from ftpbridge.exchange.jobs import run_job
from ftpbridge.files.retention import prune_local_files
from ftpbridge.settings import PartnerSettings
from ftpbridge.store import ledger
from ftpbridge.store.engine import utcnow

logger = structlog.get_logger()

RETRY_MAX_SECONDS = 1800.0


def validate_cron(expression: str, timezone: str, where: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))
    except ValueError as exc:
        raise ConfigError(
            f"{where}.export_cron {expression!r} is not a cron expression: {exc}",
            hint='use five fields, e.g. "0 6 * * *" for 06:00 every day',
        ) from None


class Scheduling(Services, Watcher):
    """The scheduler's jobs, for :class:`Daemon`."""

    # ----------------------------------------------------------------- scheduling

    def schedule(self, *, at_start: bool) -> None:
        """(Re)create every partner's jobs from ``self.settings``."""
        self._schedule_orders_inbox()
        self._schedule_notify()
        for job in self.scheduler.get_jobs():
            # Pending retries survive a reload (they look the partner up when they run).
            if job.id.startswith(("export:", "poll:", "inventory:")):
                job.remove()
        now = utcnow()
        for partner in self.partners():
            where = f"partners.{partner.name}"
            cron = validate_cron(partner.export_cron, partner.timezone, where)
            self.scheduler.add_job(
                self._job,
                cron,
                args=("export", partner.name),
                id=f"export:{partner.name}",
                name=f"export {partner.name}",
                replace_existing=True,
            )
            self.scheduler.add_job(
                self._job,
                IntervalTrigger(seconds=partner.poll_interval, timezone=dt.UTC),
                args=("poll", partner.name),
                id=f"poll:{partner.name}",
                name=f"poll {partner.name}",
                next_run_time=now,
                replace_existing=True,
            )
            if partner.inventory_pattern:  # the warehouse's stock files (issue 14)
                self.scheduler.add_job(
                    self._job,
                    IntervalTrigger(seconds=partner.inventory_interval, timezone=dt.UTC),
                    args=("inventory", partner.name),
                    id=f"inventory:{partner.name}",
                    name=f"inventory {partner.name}",
                    next_run_time=now,
                    replace_existing=True,
                )
            if at_start and self._export_missed(partner, cron, now):
                logger.info("today's export was missed; running it now", partner=partner.name)
                self._schedule_once("export", partner.name, now)
        if not self.scheduler.get_job("keep-local"):
            # [daemon] keep_local_days: old local copies go, at start and then daily.
            self.scheduler.add_job(
                self._keep_local,
                IntervalTrigger(hours=24, timezone=dt.UTC),
                id="keep-local",
                name="remove old local files",
                next_run_time=now,
                replace_existing=True,
            )
        if not self.scheduler.get_job("watch"):
            interval = min(sdnotify.watchdog_interval() or WATCH_SECONDS, WATCH_SECONDS)
            self.scheduler.add_job(
                self._watch,
                IntervalTrigger(seconds=interval, timezone=dt.UTC),
                id="watch",
                executor="watchdog",
                replace_existing=True,
            )

    def _export_missed(self, partner: PartnerSettings, cron: CronTrigger, now: dt.datetime) -> bool:
        """True when today's export time has passed and the ledger has no upload today."""
        zone = partner.zone
        local_now = now.astimezone(zone)
        start_of_day = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        first_fire = cron.get_next_fire_time(None, start_of_day)
        if (
            first_fire is None
            or first_fire > now
            or first_fire.astimezone(zone).date() != local_now.date()
        ):
            return False
        try:
            with self.store.connect() as connection:
                uploaded = ledger.uploaded_on(
                    connection, partner.name, local_now.date().isoformat()
                )
        except StoreError as exc:
            logger.error("cannot read the ledger at start-up", partner=partner.name, error=str(exc))
            return False
        return uploaded is None

    def _schedule_once(self, job: str, partner: str, when: dt.datetime) -> None:
        self.scheduler.add_job(
            self._job,
            DateTrigger(run_date=when, timezone=dt.UTC),
            args=(job, partner),
            id=f"retry:{job}:{partner}",
            name=f"{job} {partner} (once)",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _on_missed(self, event: JobExecutionEvent) -> None:
        logger.warning(
            "job run skipped (still running, or the scheduler was busy)", job_id=event.job_id
        )

    # ----------------------------------------------------------------- jobs

    def _job(self, job: str, partner_name: str) -> None:
        """Run one scheduled job for one partner; never raise."""
        if self.stopping.is_set():
            return
        partner = self.settings.partners.get(partner_name)
        if partner is None or not partner.enabled or partner.transport is None:
            return
        with self._running_lock:
            self._running += 1
        try:
            ok = run_job(
                self.store,
                self.settings,
                partner,
                job,
                replica=self.replica,
                stop=self.stopping.is_set,
            )
            metrics.job_ran(partner_name, job, ok)
            if job == "export":
                if ok:
                    self._export_retries.pop(partner_name, None)
                else:
                    # Failed, or running on another replica (None): look again later, so
                    # that today's file still goes out if that replica dies mid-export.
                    self._retry_export(partner, elsewhere=ok is None)
        finally:
            with self._running_lock:
                self._running -= 1
                self._running_lock.notify_all()

    def _keep_local(self) -> None:
        """Remove local copies older than [daemon] keep_local_days; never raise."""
        if self.stopping.is_set():
            return
        try:
            prune_local_files(
                self.store,
                self.settings.state_dir,
                self.settings.daemon.keep_local_days,
                now=utcnow(),
            )
        except FtpbridgeError as exc:
            logger.warning("old local files not removed", error=exc.message, hint=exc.hint)
        except Exception:  # a job must never kill the daemon
            logger.exception("removing old local files failed unexpectedly")

    def _retry_export(self, partner: PartnerSettings, *, elsewhere: bool = False) -> None:
        """Try a failed export again later, with backoff, until the partner's day ends.

        ``elsewhere``: it was not run because another replica runs it; the next try finds
        today's upload in the ledger (and stops) or takes over from a replica that died.
        """
        attempt = self._export_retries.get(partner.name, 0) + 1
        self._export_retries[partner.name] = attempt
        first = self.settings.daemon.export_retry_seconds
        delay = min(first * 2 ** (attempt - 1), RETRY_MAX_SECONDS)
        now = utcnow()
        when = now + dt.timedelta(seconds=delay)
        zone = partner.zone
        if when.astimezone(zone).date() != now.astimezone(zone).date():
            if not elsewhere:
                logger.error("export not retried: the partner's day is over", partner=partner.name)
            self._export_retries.pop(partner.name, None)
            return
        log = logger.debug if elsewhere else logger.info
        log("export will be retried", in_seconds=delay, attempt=attempt, elsewhere=elsewhere)
        self._schedule_once("export", partner.name, when)
