"""``ftpbridge run``: the scheduled service.

APScheduler 3 ``BlockingScheduler`` with a thread pool (``[daemon] workers``). Per enabled
partner with a transport: an export job on ``export_cron`` in the partner's time zone, a
poll job every ``poll_interval`` seconds, and an inventory job (the warehouse's stock
files) every ``inventory_interval`` seconds unless ``inventory_pattern`` is empty. Jobs
coalesce, never overlap themselves, and one partner's failing server never delays
another's jobs (each job has its own timeout through the transport, and jobs run side by
side in the pool).

- A day's export missed while the daemon was down runs at start-up when the ledger shows
  no upload for that partner's current day; a failed upload is retried with backoff until
  it works or the partner's day ends.
- After ``alert_after`` consecutive failures an ``alert`` event is logged at error level
  (and ``status`` shows it); a partner with no successful poll for ``stale_after`` is stale.
- ``[daemon] keep_local_days``: local copies (archive/, outgoing/) older than that are
  removed at start and then daily, never one whose ledger row is not final.
- SIGTERM/SIGINT: no new work; running steps finish (or are abandoned safely: every step
  is crash-safe) and the process exits 0 within 30 s. SIGHUP: re-read the config and
  reschedule; an invalid new config is logged and the old one kept.
- systemd: READY=1 once scheduled, WATCHDOG=1 from the watcher, a job of the scheduler's
  own loop (on its own one-thread executor, so a hung scheduler stops the pings),
  STOPPING=1 on exit.
- Job deadlines (``ftpbridge.deadlines``, issue 11 item 5): every cycle runs on a lease
  its progress renews. The watcher (every ``WATCH_SECONDS``, or each watchdog interval if
  shorter) logs a job past its deadline, counts it as a failure of that job and alerts
  (``exchange.jobs.past_deadline``); a job still stuck after as long again is a wedged
  worker: the watchdog is no longer pinged, and systemd restarts the service (every step
  is crash-safe). Without a watchdog the log and the alert say it.
- Notifications (``[notify]``): the outbox's sender runs every ``interval`` seconds
  (``ftpbridge.notify.sender``); replicas share the outbox without a job lock (claims).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO
from zoneinfo import ZoneInfo

import structlog
from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from ftpbridge import metrics, sdnotify
from ftpbridge.errors import (
    EXIT_OK,
    ConfigError,
    FtpbridgeError,
    StoreError,
)
from ftpbridge.exchange.jobs import run_job, watch_deadlines
from ftpbridge.files.inbox import INBOX_PARTNER, poll_orders_inbox
from ftpbridge.files.retention import prune_local_files
from ftpbridge.notify import job as notify_job
from ftpbridge.settings import PartnerSettings, Settings, load_settings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.locks import job_lock
from ftpbridge.wording import plural

logger = structlog.get_logger()

STOP_GRACE_SECONDS = 25.0
RETRY_MAX_SECONDS = 1800.0
WATCH_SECONDS = 5.0  # how often running jobs are looked at for their deadline


def replica_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def validate_cron(expression: str, timezone: str, where: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))
    except ValueError as exc:
        raise ConfigError(
            f"{where}.export_cron {expression!r} is not a cron expression: {exc}",
            hint='use five fields, e.g. "0 6 * * *" for 06:00 every day',
        ) from None


@contextlib.contextmanager
def single_instance(settings: Settings) -> Iterator[None]:
    """Refuse a second daemon on the same SQLite store (PostgreSQL arbitrates by itself)."""
    if not settings.store_url.startswith("sqlite"):
        yield
        return
    # Next to the database file when there is one: two configs (or state folders) naming
    # the same SQLite file must still meet on one lock.
    database = make_url(settings.store_url).database
    if database and database != ":memory:":
        lock_path = Path(database).with_name(Path(database).name + ".run-lock")
    else:
        lock_path = settings.state_dir / "ftpbridge-run.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = _locked(lock_path)
    handle.seek(0)
    handle.truncate()
    handle.write(replica_name() + "\n")
    handle.flush()
    try:
        yield
    finally:
        # A clean stop leaves no lock file behind. Removed while still locked: a process
        # that opened it just before finds, once it has the lock, that the path is no
        # longer its file and starts again (_locked).
        with contextlib.suppress(OSError):
            lock_path.unlink()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _locked(lock_path: Path) -> TextIO:
    """Open ``lock_path`` and take its lock without waiting; FtpbridgeError naming the
    holder when another daemon has it. The lock held is on the file the path names now."""
    while True:
        handle = lock_path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise FtpbridgeError(
                f"another ftpbridge run ({holder}) already uses this SQLite store"
                f" ({lock_path}); two daemons on one SQLite file would do the work twice",
                hint="stop the other one, or move the store to PostgreSQL to run several replicas",
            ) from None
        try:
            current = os.stat(lock_path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(handle.fileno())
        if current is not None and (current.st_dev, current.st_ino) == (
            mine.st_dev,
            mine.st_ino,
        ):
            return handle
        handle.close()  # the daemon that held it removed it as it stopped: try again


class Daemon:
    """One running service: settings, store, scheduler, and the control thread."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        config_path: Path | None,
        reload: Callable[[], Settings] | None = None,
        services: Sequence[Service] = (),
    ) -> None:
        self.settings = settings
        self.services = tuple(services)
        self.store = store
        self.config_path = config_path
        self._reload = reload or (lambda: load_settings(config_path, required=True))
        self.replica = replica_name()
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._reload_requested = threading.Event()
        self._running = 0
        self._running_lock = threading.Condition()
        self._export_retries: dict[str, int] = {}
        self._wedged_said = False
        self._notify_job = notify_job.SenderJob(store)
        self.scheduler = BlockingScheduler(
            executors={
                "default": ThreadPoolExecutor(settings.daemon.workers),
                "watchdog": ThreadPoolExecutor(1),
            },
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": settings.daemon.misfire_grace_seconds,
            },
            timezone=dt.UTC,
        )
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self._scheduler_started = threading.Event()
        self.scheduler.add_listener(self._on_scheduler_started, EVENT_SCHEDULER_STARTED)

    # ----------------------------------------------------------------- scheduling

    def partners(self) -> list[PartnerSettings]:
        return [
            partner
            for partner in self.settings.partners.values()
            if partner.enabled and partner.transport is not None
        ]

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

    def _watch(self) -> None:
        """Look at every running job's deadline (``exchange.jobs.watch_deadlines``), then
        ping systemd's watchdog unless a worker is wedged; never raise."""
        try:
            wedged = watch_deadlines(self.store, self.settings.partners, replica=self.replica)
        except Exception:  # the watcher must keep watching
            logger.exception("cannot look at the running jobs' deadlines")
            wedged = []
        if wedged:
            if not self._wedged_said:
                self._wedged_said = True
                logger.error(
                    "workers wedged: the watchdog is no longer pinged",
                    jobs=wedged,
                    message="systemd restarts the service when its watchdog runs out"
                    " (WatchdogSec=); every step is crash-safe",
                )
            # What `systemctl status` shows meanwhile (and sent instead of the ping).
            sdnotify.status(f"wedged, watchdog not pinged: {', '.join(wedged)}")
            return
        if self._wedged_said:
            self._wedged_said = False
            sdnotify.status(f"scheduled {len(self.partners())} partner(s)")
        if sdnotify.watchdog_interval():
            sdnotify.watchdog()

    # ----------------------------------------------------------------- control

    def request_stop(self, *_: Any) -> None:
        self.stopping.set()
        self._wake.set()

    def request_reload(self, *_: Any) -> None:
        self._reload_requested.set()
        self._wake.set()

    def _control(self) -> None:
        """The control thread: acts on signals outside the signal handlers."""
        while True:
            self._wake.wait()
            self._wake.clear()
            if self.stopping.is_set():
                self._shutdown()
                return
            if self._reload_requested.is_set():
                self._reload_requested.clear()
                self._do_reload()

    def _do_reload(self) -> None:
        sdnotify.reloading()
        try:
            new = self._reload()
            for partner in new.partners.values():
                if partner.enabled and partner.transport is not None:
                    validate_cron(partner.export_cron, partner.timezone, f"partners.{partner.name}")
            notify_job.check(self.store, new.notify)  # a secret or template missing
        except FtpbridgeError as exc:
            logger.error("new config is invalid; keeping the old one", error=exc.message)
            sdnotify.ready()
            return
        if new.store_url != self.settings.store_url:
            logger.warning("the store URL changed; restart ftpbridge to use the new store")
        self.settings = new
        self.schedule(at_start=False)
        logger.info("config reloaded", partners=sorted(p.name for p in self.partners()))
        sdnotify.ready()

    def _shutdown(self) -> None:
        logger.info("stopping: no new work; waiting for running steps")
        sdnotify.stopping()
        self._stop_services()
        # A stop that comes before the scheduler has started must wait for it: shutting
        # down a scheduler that is not running yet does nothing, and it would then run on.
        self._scheduler_started.wait(timeout=10)
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        with self._running_lock:
            while self._running and time.monotonic() < deadline:
                self._running_lock.wait(timeout=deadline - time.monotonic())
            abandoned = self._running
        self._join_services(deadline)
        if abandoned:
            # Every step is crash-safe: what is cut off here is redone at the next start.
            logger.warning("steps still running were abandoned", running=abandoned)
            os._exit(EXIT_OK)

    def run(self) -> int:
        """Schedule, run until SIGTERM/SIGINT, return the exit code (0)."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGHUP, self.request_reload)
        self.schedule(at_start=True)
        control = threading.Thread(target=self._control, name="ftpbridge-control", daemon=True)
        control.start()
        self._start_services()
        partners = [partner.name for partner in self.partners()]
        if not partners:
            logger.warning("no enabled partner has a transport: nothing is scheduled")
        logger.info("ftpbridge running", partners=partners, replica=self.replica)
        try:
            self.scheduler.start()
        except JobLookupError:
            # APScheduler 3: a one-off job (today's missed export, a retry) that falls due
            # as SIGTERM shuts the scheduler down is removed by the main loop after it is
            # submitted, and remove_job on a stopped scheduler raises. Nothing is lost
            # (the job was handed to a worker, which finishes or is abandoned safely).
            if not self.stopping.is_set():
                raise
        control.join(timeout=STOP_GRACE_SECONDS + 2)
        logger.info("ftpbridge stopped")
        return EXIT_OK

    def _on_scheduler_started(self, _event: object) -> None:
        """READY=1 once the scheduler runs. Said from the scheduler's own start event, not a
        one-off job: APScheduler raises JobLookupError from its main loop when it is shut
        down while it removes a finished one-off job (a SIGTERM right after the start), and
        the daemon then exited 70 instead of 0."""
        self._scheduler_started.set()
        self._started()

    def _started(self) -> None:
        sdnotify.ready()
        sdnotify.status(f"scheduled {plural(len(self.partners()), 'partner')}")

    # ----------------------------------------------------------------- issue 13: the HTTP
    # service beside the scheduler (the daemon owns the signals; see web/server.py), and
    # the shop's orders drop folder ([orders] inbox).

    def _start_services(self) -> None:
        for service in self.services:
            service.start()

    def _stop_services(self) -> None:
        for service in self.services:
            service.request_stop()  # in parallel with the running steps finishing

    def _join_services(self, deadline: float) -> None:
        for service in self.services:
            if not service.join(max(0.0, deadline - time.monotonic())):
                logger.warning("the HTTP service did not stop in time; leaving it")

    def _schedule_orders_inbox(self) -> None:
        existing = self.scheduler.get_job("orders-inbox")
        if self.settings.orders.inbox is None:
            if existing is not None:
                existing.remove()
            return
        self.scheduler.add_job(
            self._orders_inbox,
            IntervalTrigger(seconds=self.settings.orders.poll_interval, timezone=dt.UTC),
            id="orders-inbox",
            name="orders inbox",
            next_run_time=utcnow(),
            replace_existing=True,
        )

    def _orders_inbox(self) -> None:
        """Take the settled files of [orders] inbox (one replica at a time); never raise."""
        inbox = self.settings.resolve(self.settings.orders.inbox)
        if self.stopping.is_set() or inbox is None:
            return
        with self._running_lock:
            self._running += 1
        try:
            with (
                structlog.contextvars.bound_contextvars(job="orders-inbox"),
                job_lock(self.store, INBOX_PARTNER, "orders") as locked,
            ):
                if locked:
                    poll_orders_inbox(
                        self.store,
                        self.settings.orders,
                        inbox,
                        list(self.settings.partners.values()),
                    )
        except FtpbridgeError as exc:
            logger.warning("orders inbox failed", error=exc.message, hint=exc.hint)
        except Exception:  # a job must never kill the daemon
            logger.exception("orders inbox failed unexpectedly")
        finally:
            with self._running_lock:
                self._running -= 1
                self._running_lock.notify_all()

    # ----------------------------------------------------------------- issue 15: the
    # outbox's sender ([notify]): every interval, one round of deliveries.

    def _schedule_notify(self) -> None:
        existing = self.scheduler.get_job("notify")
        if not self._notify_job.configure(self.settings.notify):
            if existing is not None:
                existing.remove()
            return
        self.scheduler.add_job(
            self._notify,
            IntervalTrigger(seconds=self.settings.notify.interval, timezone=dt.UTC),
            id="notify",
            name="notify",
            next_run_time=utcnow(),
            replace_existing=True,
        )

    def _notify(self) -> None:
        with self._running_lock:
            self._running += 1
        try:
            self._notify_job.run(self.stopping.is_set)
        finally:
            with self._running_lock:
                self._running -= 1
                self._running_lock.notify_all()


class Service(Protocol):
    """Something the daemon runs beside its scheduler (the HTTP service)."""

    def start(self) -> None: ...

    def request_stop(self) -> None: ...

    def join(self, timeout: float) -> bool: ...
