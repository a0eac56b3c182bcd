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
    """Five events, one per POST; the receiver holds the first until the test lets it go.
    A reload asked for while that batch is in flight waits for it, then the round stops
    (exactly one event delivered in it), and the next round, with the new sender,
    delivers the other four: each event once, nothing logged as failed."""
    from ftpbridge.store.engine import utcnow

    ship(loaded_store, tmp_path, [("1", "1001"), ("1", "1002"), ("3", "1004"), ("4", "1006"),
                                  ("5", "1007")], now=utcnow())  # fmt: skip
    receiver.plan([{"hold": True}])
    job = SenderJob(loaded_store)
    # A timeout far longer than the test holds the first answer: nothing times out.
    notify = notify_settings(receiver.url, batch_size=1, timeout=120).notify
    assert job.configure(notify)
    with capture_logs() as logs:
        first = threading.Thread(target=job.run, args=(lambda: False,))
        first.start()
        wait_for(lambda: receiver.requests(), "the first request")
        reload = threading.Thread(target=job.configure, args=(notify,))
        reload.start()
        # The reload has asked the round to stop (it then waits for the batch in flight).
        wait_for(lambda: job._changing.is_set(), "the reload to ask the round to stop")
        assert reload.is_alive() and first.is_alive()
        receiver.release()
        reload.join(timeout=120)
        first.join(timeout=120)
        assert not reload.is_alive() and not first.is_alive()
        in_first_round = len(receiver.answered())
        job.run(lambda: False)
    job.close()
    assert in_first_round == 1
    delivered = receiver.delivered_ids()
    assert len(delivered) == 5 == len(set(delivered))
    assert not [log for log in logs if log["log_level"] in ("warning", "error")], logs


def test_nothing_configured_runs_nothing(loaded_store: Store) -> None:
    job = SenderJob(loaded_store)
    assert not job.configure(build_settings({}).notify)
    job.run(lambda: False)  # no sender: nothing happens, nothing raised
    job.close()
