"""Claiming the outbox's events (store/deliveries.py) on SQLite and PostgreSQL: a lease
keeps an event from a second sender while its holder lives, a dead holder's leases are
taken at once, a lease that ran out is taken by another, and delivered events are pruned."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from ftpbridge.store import Store
from ftpbridge.store.deliveries import Attempt, claim, presence, prune, record
from ftpbridge.store.outbox import DELIVERED, PENDING
from ftpbridge.store.schema import outbox
from tests.notify.conftest import NOW, ship

LEASE = dt.timedelta(minutes=1)


def take(store: Store, holder: str, now: dt.datetime = NOW) -> list[str]:
    with store.begin() as connection:
        events = claim(connection, channel="webhook", limit=10, now=now, holder=holder,
                       lease_until=now + LEASE)  # fmt: skip
    return [event.item_id or "" for event in events]


def alive_holder(name: str) -> str:
    """A holder that is alive: this process (SQLite checks the process id)."""
    return f"{socket.gethostname()[:150]}:{os.getpid()}:{name}"


def gone_holder() -> str:
    """A holder whose process has ended."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    return f"{socket.gethostname()[:150]}:{finished.stdout.strip()}:gone"


def test_a_lease_holds_while_its_holder_lives_and_ends_when_it_runs_out(
    loaded_store: Store, tmp_path: Path
) -> None:
    """A claims both events; B, claiming at the same moment, gets none while A lives and
    its lease runs; once the lease has run out B takes them."""
    ship(loaded_store, tmp_path, [("1", "1001"), ("3", "1004")])
    first, second = alive_holder("a"), alive_holder("b")
    with presence(loaded_store, first):
        assert take(loaded_store, first) == ["1001", "1004"]
        assert take(loaded_store, second) == []
        assert take(loaded_store, second, NOW + LEASE - dt.timedelta(seconds=1)) == []
        assert take(loaded_store, second, NOW + LEASE + dt.timedelta(seconds=1)) == [
            "1001",
            "1004",
        ]


def test_a_gone_holders_leases_are_taken_at_once(loaded_store: Store, tmp_path: Path) -> None:
    """The holder died (its process ended; on PostgreSQL its advisory lock is gone with
    its connection): another sender takes its events without waiting for the lease."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    gone = gone_holder()
    if loaded_store.dialect == "postgresql":
        with presence(loaded_store, gone):
            assert take(loaded_store, gone) == ["1001"]
            assert take(loaded_store, alive_holder("b")) == []  # alive while present
    else:
        assert take(loaded_store, gone) == ["1001"]
    assert take(loaded_store, alive_holder("b")) == ["1001"]


def test_a_late_failure_does_not_undo_another_senders_lease(
    loaded_store: Store, tmp_path: Path
) -> None:
    """A's lease ran out and B took the event; A's failure, recorded late, changes
    nothing (B's attempt counts); a delivery always counts."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    first, second = alive_holder("a"), alive_holder("b")
    with presence(loaded_store, first), presence(loaded_store, second):
        assert take(loaded_store, first) == ["1001"]
        later = NOW + LEASE + dt.timedelta(seconds=1)
        assert take(loaded_store, second, later) == ["1001"]
        with loaded_store.connect() as connection:
            event_id = connection.execute(select(outbox.c.id)).scalar_one()
        with loaded_store.begin() as connection:
            record(connection, [Attempt(event_id, PENDING, next_attempt_at=later, error="x")],
                   later, first)  # fmt: skip
        with loaded_store.connect() as connection:
            row = connection.execute(select(outbox)).mappings().one()
        assert (row["leased_by"], row["attempts"]) == (second, 0)
        with loaded_store.begin() as connection:
            record(connection, [Attempt(event_id, DELIVERED, status=200)], later, first)
        with loaded_store.connect() as connection:
            row = connection.execute(select(outbox)).mappings().one()
        assert (row["state"], row["leased_by"], row["attempts"]) == ("delivered", None, 1)


def test_delivered_events_are_pruned_after_keep_delivered(
    loaded_store: Store, tmp_path: Path
) -> None:
    """prune deletes delivered events older than the cut-off, never pending ones."""
    ship(loaded_store, tmp_path, [("1", "1001"), ("3", "1004")])
    holder = alive_holder("a")
    with presence(loaded_store, holder):
        take(loaded_store, holder)
    with loaded_store.connect() as connection:
        first = connection.execute(select(outbox.c.id).order_by(outbox.c.id)).scalars().first()
    assert first is not None
    with loaded_store.begin() as connection:
        record(connection, [Attempt(first, DELIVERED, status=200)], NOW, holder)
    with loaded_store.begin() as connection:
        assert prune(connection, NOW) == 0
        assert prune(connection, NOW + dt.timedelta(seconds=1)) == 1
    with loaded_store.connect() as connection:
        assert connection.execute(select(outbox.c.state)).scalars().all() == ["pending"]


def test_a_holder_whose_process_id_is_not_ascii_digits_is_not_gone(
    loaded_store: Store, tmp_path: Path
) -> None:
    """A holder name on this machine whose process id is "²" (str.isdigit says yes, int()
    says no): not known to be gone, so its lease is left to run out; nothing raises."""
    ship(loaded_store, tmp_path, [("1", "1001")])
    odd = f"{socket.gethostname()[:150]}:²:odd"
    assert take(loaded_store, odd) == ["1001"]
    if loaded_store.dialect == "sqlite":
        assert take(loaded_store, alive_holder("b")) == []
