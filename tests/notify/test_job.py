"""The sender as ``ftpbridge run`` holds it (notify/job.py): a config reload waits for the
batch in flight and swaps the sender without an error or a lost or doubled event."""

from __future__ import annotations

import threading
from pathlib import Path

from structlog.testing import capture_logs

from ftpbridge.notify.job import SenderJob
from ftpbridge.settings import build_settings
from ftpbridge.store import Store
from tests.notify.conftest import Receiver, notify_settings, ship
from tests.servers import wait_for


def test_a_reload_during_a_round_waits_for_its_batch(
    loaded_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    """Five events, one per POST, a receiver taking 0.3 s each: a reload in the middle of
    the round lets the batch in flight finish, stops the round, and the next round (with
    the new sender) delivers the rest: each event once, nothing logged as failed."""
    from ftpbridge.store.engine import utcnow

    ship(loaded_store, tmp_path, [("1", "1001"), ("1", "1002"), ("3", "1004"), ("4", "1006"),
                                  ("5", "1007")], now=utcnow())  # fmt: skip
    receiver.plan([], delay=0.3)
    job = SenderJob(loaded_store)
    notify = notify_settings(receiver.url, batch_size=1).notify
    assert job.configure(notify)
    with capture_logs() as logs:
        first = threading.Thread(target=job.run, args=(lambda: False,))
        first.start()
        wait_for(lambda: receiver.requests(), "the first request")
        assert job.configure(notify)  # waits for the batch in flight
        first.join(timeout=60)
        in_first_round = len(receiver.answered())
        job.run(lambda: False)
    job.close()
    assert 1 <= in_first_round < 5
    delivered = receiver.delivered_ids()
    assert len(delivered) == 5 == len(set(delivered))
    assert not [log for log in logs if log["log_level"] in ("warning", "error")], logs


def test_nothing_configured_runs_nothing(loaded_store: Store) -> None:
    job = SenderJob(loaded_store)
    assert not job.configure(build_settings({}).notify)
    job.run(lambda: False)  # no sender: nothing happens, nothing raised
    job.close()
