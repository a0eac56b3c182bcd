"""What every part of the running service shares: the settings, the store, the scheduler,
the stop event and the count of steps running, set by :class:`~ftpbridge.daemon.running.Daemon`
and declared here once for the parts it is made of (scheduling, the watcher, the services
beside the scheduler), each a class of its own module."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from apscheduler.schedulers.blocking import BlockingScheduler

from ftpbridge.notify import job as notify_job
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store


class Service(Protocol):
    """Something the daemon runs beside its scheduler (the HTTP service)."""

    def start(self) -> None: ...

    def request_stop(self) -> None: ...

    def join(self, timeout: float) -> bool: ...


class DaemonBase:
    """The state of one running service (set by ``Daemon.__init__``)."""

    settings: Settings
    services: tuple[Service, ...]
    store: Store
    config_path: Path | None
    _reload: Callable[[], Settings]
    replica: str
    stopping: threading.Event
    _wake: threading.Event
    _reload_requested: threading.Event
    _running: int
    _running_lock: threading.Condition
    _export_retries: dict[str, int]
    _wedged_said: bool
    _notify_job: notify_job.SenderJob
    scheduler: BlockingScheduler
    _scheduler_started: threading.Event

    def partners(self) -> list[PartnerSettings]:
        return [
            partner
            for partner in self.settings.partners.values()
            if partner.enabled and partner.transport is not None
        ]
