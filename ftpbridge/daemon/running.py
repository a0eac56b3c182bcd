""":class:`Daemon`: one running service built from its parts (scheduling, the watcher, the
services beside the scheduler); signals, the control thread that acts on them (reload the
config, stop within the grace time), and systemd's READY=1 and STOPPING=1."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler

from ftpbridge import sdnotify
from ftpbridge.daemon.base import Service
from ftpbridge.daemon.instance import replica_name
from ftpbridge.daemon.scheduling import Scheduling, validate_cron
from ftpbridge.errors import EXIT_OK, FtpbridgeError
from ftpbridge.notify import job as notify_job
from ftpbridge.settings import Settings, load_settings
from ftpbridge.store import Store
from ftpbridge.wording import plural

logger = structlog.get_logger()

STOP_GRACE_SECONDS = 25.0


class Daemon(Scheduling):
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
