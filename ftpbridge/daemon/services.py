"""What runs beside the scheduler (issues 13 and 15): the HTTP service (the daemon owns the
signals; see web/server.py), the job that takes the shop's orders drop folder
(``[orders] inbox``) and the outbox's sender every ``[notify] interval``."""

from __future__ import annotations

import datetime as dt
import time

import structlog
from apscheduler.triggers.interval import IntervalTrigger

from ftpbridge.daemon.base import DaemonBase
from ftpbridge.errors import FtpbridgeError
from ftpbridge.files.inbox import INBOX_PARTNER, poll_orders_inbox
from ftpbridge.store.engine import utcnow
from ftpbridge.store.locks import job_lock

logger = structlog.get_logger()


class Services(DaemonBase):
    """The HTTP service, the orders inbox and the outbox's sender, for :class:`Daemon`."""

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
