"""The watcher: every running job's deadline looked at (``exchange.jobs.watch_deadlines``)
and systemd's watchdog pinged, from a job of the scheduler's own loop on its own one-thread
executor, so that a hung scheduler or a wedged worker stops the pings."""

from __future__ import annotations

import structlog

from ftpbridge import sdnotify
from ftpbridge.daemon.base import DaemonBase
from ftpbridge.exchange.jobs import watch_deadlines

logger = structlog.get_logger()

WATCH_SECONDS = 5.0  # how often running jobs are looked at for their deadline


class Watcher(DaemonBase):
    """The deadline watcher and the watchdog's pings, for :class:`Daemon`."""

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
