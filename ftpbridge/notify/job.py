"""The sender as ``ftpbridge run`` runs it: built from the settings (again on reload), one
round of deliveries per run of the scheduled job, never raising. A reload waits for the
batch in flight (the round stops after it) before the old sender is closed."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from ftpbridge.errors import FtpbridgeError
from ftpbridge.notify.sender import Sender, build_sender
from ftpbridge.settings import NotifySettings
from ftpbridge.store import Store

logger = structlog.get_logger()


class SenderJob:
    """Holds the daemon's sender between runs (its HTTP client is reused)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._sender: Sender | None = None
        self._running = threading.Lock()
        self._changing = threading.Event()

    def configure(self, notify: NotifySettings) -> bool:
        """Use ``notify`` from now on; whether there is anything to send to. Raises
        ConfigError when a channel cannot work (see :func:`build_sender`)."""
        new = build_sender(self.store, notify) if notify.enabled else None
        self._changing.set()  # a round in progress stops after its batch ...
        with self._running:  # ... and this waits for it
            self._changing.clear()
            if self._sender is not None:
                self._sender.close()
            self._sender = new
        return new is not None

    def run(self, stop: Callable[[], bool]) -> None:
        """One round of deliveries; failures are logged, never raised."""
        with self._running:
            sender = self._sender
            if sender is None or stop():
                return
            self._round(sender, lambda: stop() or self._changing.is_set())

    def _round(self, sender: Sender, stop: Callable[[], bool]) -> None:
        try:
            with structlog.contextvars.bound_contextvars(job="notify"):
                sender.send_once(stop=stop)
        except FtpbridgeError as exc:
            logger.warning("sending notifications failed", error=exc.message, hint=exc.hint)
        except Exception:  # a job must never kill the daemon
            logger.exception("sending notifications failed unexpectedly")

    def close(self) -> None:
        with self._running:
            if self._sender is not None:
                self._sender.close()
                self._sender = None


def check(store: Store, notify: NotifySettings) -> None:
    """Raise ConfigError when ``notify`` could not be used (for a config reload)."""
    if notify.enabled:
        build_sender(store, notify).close()
