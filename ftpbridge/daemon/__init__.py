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

The rooms, each owning one thing:

- ``running``: :class:`Daemon` (signals, the control thread, reload and stop);
- ``scheduling``: the partners' jobs, the missed export, retries, old local copies;
- ``watcher``: job deadlines and systemd's watchdog;
- ``services``: the HTTP service, the orders inbox and the outbox's sender beside it;
- ``base``: the state those parts share;
- ``instance``: one daemon per SQLite store (:func:`single_instance`).

This module is the public surface (``ftpbridge.cli.service`` imports from here).
"""

from ftpbridge.daemon.base import Service
from ftpbridge.daemon.instance import replica_name, single_instance
from ftpbridge.daemon.running import STOP_GRACE_SECONDS, Daemon
from ftpbridge.daemon.scheduling import RETRY_MAX_SECONDS, validate_cron
from ftpbridge.daemon.watcher import WATCH_SECONDS

__all__ = [
    "RETRY_MAX_SECONDS",
    "STOP_GRACE_SECONDS",
    "WATCH_SECONDS",
    "Daemon",
    "Service",
    "replica_name",
    "single_instance",
    "validate_cron",
]
