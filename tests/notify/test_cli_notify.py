"""``ftpbridge notify send|list|retry`` and ``status`` as people run them, against a real
receiver; and ``notify send`` killed (SIGKILL) at every step, then run again: nothing lost."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.schema import outbox
from tests.notify.conftest import SECRET, Receiver, ship


def configure(config_file: Path, url: str, secret: str = SECRET) -> None:
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[notify]\nwebhook_url = "{url}"\nwebhook_secret = "{secret}"\n')
        handle.write("timeout = 2\n")
    # It holds the webhook's secret: private, as the README says (else every command warns).
    config_file.chmod(0o600)


def event_states(store: Store) -> dict[str, str]:
    with store.connect() as connection:
        rows = connection.execute(select(outbox.c.event_id, outbox.c.state))
        return {event_id: state for event_id, state in rows}


def test_send_list_retry_and_status(
    loaded_store: Store, config_file: Path, receiver: Receiver, run_cli: Callable, tmp_path: Path
) -> None:
    """The receiver refuses the first POST (400): ``notify send`` says so and exits 1,
    ``status`` flags the dead notifications and exits 1, ``notify list --dead`` shows the
    event with the receiver's answer, ``notify retry ID`` (its first characters) and
    ``notify send`` deliver it; then status is calm and nothing is left to list."""
    configure(config_file, receiver.url)
    ship(loaded_store, tmp_path, [("1", "1001")], now=utcnow())
    receiver.plan([{"status": 400, "body": "order 1 is not ours"}])
    sent = run_cli("notify", "send")
    assert sent.exit_code == 1, sent.output
    assert sent.stdout.startswith("Delivered 0 events. 1 event given up (dead)")
    assert "refused the events: 400 Bad Request" in sent.stdout
    status = run_cli("status")
    assert status.exit_code == 1
    assert "notifications: 0 waiting, 1 dead" in status.stdout
    assert "[DEAD: ftpbridge notify list --dead; notify retry]" in status.stdout
    as_json = json.loads(run_cli("status", "--format", "json").stdout)
    acme = next(row for row in as_json if row["name"] == "acme")
    assert acme["deliveries"] == {
        "pending": 0, "failing": 0, "dead": 1, "oldest_pending": None, "stuck": False
    }  # fmt: skip
    listed = run_cli("notify", "list", "--dead", "--format", "json")
    [dead] = json.loads(listed.stdout)
    assert (dead["state"], dead["last_status"], dead["item_id"]) == ("dead", 400, "1001")
    assert dead["last_response"] == "order 1 is not ours"
    table = run_cli("notify", "list", "--dead").stdout
    assert dead["id"] in table and "refused the events" in table
    assert run_cli("notify", "list").stdout.strip() == "Nothing waiting: every event is delivered."
    retried = run_cli("notify", "retry", dead["id"][:12])
    assert retried.exit_code == 0
    assert retried.stdout.strip() == f"Event {dead['id']} will be sent again (it was dead)."
    waiting = json.loads(run_cli("notify", "list", "--format", "json").stdout)
    assert [(row["id"], row["attempts"]) for row in waiting] == [(dead["id"], 0)]
    again = run_cli("notify", "send", "--once")
    assert (again.exit_code, again.stdout.strip()) == (0, "Delivered 1 event.")
    assert receiver.delivered_ids() == [dead["id"]]
    assert run_cli("status").exit_code == 0
    assert run_cli("notify", "list", "--dead").stdout.strip() == "No dead events."


def test_retry_all_dead_and_mistakes(
    loaded_store: Store, config_file: Path, receiver: Receiver, run_cli: Callable, tmp_path: Path
) -> None:
    """``--all-dead`` sends every dead event again; an unknown id, both or neither
    argument are errors with a Try line."""
    configure(config_file, receiver.url)
    ship(loaded_store, tmp_path, [("1", "1001"), ("3", "1004")], now=utcnow())
    receiver.plan([{"status": 410}])
    assert run_cli("notify", "send").exit_code == 1
    assert set(event_states(loaded_store).values()) == {"dead"}
    retried = run_cli("notify", "retry", "--all-dead")
    assert retried.stdout.strip() == "2 dead events will be sent again."
    assert set(event_states(loaded_store).values()) == {"pending"}
    for arguments, message in (
        (("evt_0000000000000000",), "Error: no event 'evt_0000000000000000' in the outbox"),
        ((), "Error: give one event id or --all-dead"),
        (("evt_1", "--all-dead"), "Error: give one event id or --all-dead"),
    ):
        wrong = run_cli("notify", "retry", *arguments)
        assert wrong.exit_code == 2
        assert wrong.stderr.splitlines()[0] == message
        assert wrong.stderr.splitlines()[1].startswith("Try: ")


def test_status_flags_stuck_notifications(
    loaded_store: Store, config_file: Path, receiver: Receiver, run_cli: Callable, tmp_path: Path
) -> None:
    """A receiver answering 503: the event keeps waiting and fails; status says so
    (stuck, exit 1), per partner and in total."""
    configure(config_file, receiver.url)
    ship(loaded_store, tmp_path, [("1", "1001")], now=utcnow())
    receiver.plan([{"status": 503}])
    sent = run_cli("notify", "send")
    assert sent.exit_code == 1
    assert "1 event will be tried again later." in sent.stdout
    status = run_cli("status")
    assert status.exit_code == 1
    assert "notifications: 1 waiting, 1 failing, 0 dead  (stuck)" in status.stdout
    assert "[STUCK: see ftpbridge notify list]" in status.stdout


def test_send_needs_somewhere_to_send_and_a_secret(config_file: Path, run_cli: Callable) -> None:
    """Nothing configured, or a webhook without a (long enough) secret: an Error and a Try
    line naming the keys, exit 2, and the secret never echoed."""
    nothing = run_cli("notify", "send")
    assert nothing.exit_code == 2
    assert "Error: nothing to send to: neither [notify] webhook_url" in nothing.stderr
    configure(config_file, "http://127.0.0.1:9/hook", secret="short-s3cr3t")
    short = run_cli("notify", "send")
    assert short.exit_code == 2
    assert "webhook_secret is 12 characters; at least 16" in short.stderr
    assert "short-s3cr3t" not in short.output
    assert "Try: make one with:" in short.stderr


STEPS = ["notify_claim", "notify_send", "notify_mark"]


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_at_every_step_of_a_send_loses_nothing(
    step: str,
    loaded_store: Store,
    config_file: Path,
    receiver: Receiver,
    cli_subprocess: Callable,
    tmp_path: Path,
) -> None:
    """``notify send`` killed at ``step`` (events leased; sent, not recorded; recorded,
    not committed), then run again at once: every event delivered at least once, all
    marked delivered, none still leased; sent twice only when the kill came after the
    receiver had them (the receiver drops the duplicates by id)."""
    configure(config_file, receiver.url)
    ship(loaded_store, tmp_path, [("1", "1001"), ("1", "1002"), ("3", "1004")], now=utcnow())
    ids = set(event_states(loaded_store))
    arguments = ("--config", str(config_file), "notify", "send")
    crashed = cli_subprocess(*arguments, cwd=tmp_path, env={"FTPBRIDGE_CRASH_AT": step})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert set(event_states(loaded_store).values()) == {"pending"}
    again = cli_subprocess(*arguments, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.strip() == "Delivered 3 events."
    assert event_states(loaded_store) == dict.fromkeys(ids, "delivered")
    delivered = receiver.delivered_ids()
    assert set(delivered) == ids
    assert len(delivered) == (3 if step == "notify_claim" else 6)
    with loaded_store.connect() as connection:
        assert connection.execute(select(outbox.c.leased_by).where(
            outbox.c.leased_by.is_not(None))).all() == []  # fmt: skip
