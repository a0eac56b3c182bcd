"""The real daemon (``ftpbridge run`` as a subprocess) against pyftpdlib, second-scale."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

_CHECKOUT = str(Path(__file__).resolve().parents[2])
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from tests.runs import FTPBRIDGE, FtpbridgeRun  # noqa: E402
from tests.servers import (  # noqa: E402
    FTPServer,
    free_port,
    notify_listener,
    start_ftp_server,
    wait_for,
)

EXAMPLES = Path(_CHECKOUT) / "examples" / "orders.jsonl"
UPS = "1Z5R89390357567127"
UPDATED = "Shop-orders-csv-updated_5.1.2011.csv"


def partner_toml(name: str, server: FTPServer | None, port: int | None = None, **extra: Any) -> str:
    lines = [
        f"[partners.{name}]",
        'transport = "ftp"',
        'host = "127.0.0.1"',
        f"port = {port or (server.port if server else 1)}",
        f'username = "{server.username if server else "nobody"}"',
        f'password = "{server.password if server else "nothing"}"',
        f'outbox = "/{name}/out"',
        f'inbox = "/{name}/in"',
        "settle_seconds = 0",
        "poll_interval = 1",
        "timeout = 3",
        # Midnight UTC is always in the past today: the missed export runs at start-up.
        f"export_cron = {json.dumps(extra.pop('export_cron', '0 0 * * *'))}",
        f'skus = ["{extra.pop("skus", "*")}"]',
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A pyftpdlib server with folders for partners acme and bravo, a config, a store
    with the sample orders, and a way to start daemons; everything is stopped at the end."""
    home = tmp_path / "ftp"
    for partner in ("acme", "bravo"):
        for folder in ("in", "out"):
            (home / partner / folder).mkdir(parents=True)
    server = start_ftp_server(home)
    daemons: list[FtpbridgeRun] = []

    def write_config(*partners: str) -> None:
        text = (
            f'[store]\nurl = "sqlite:///{tmp_path / "store.db"}"\n'
            f'[daemon]\nstate_dir = "{tmp_path / "state"}"\nlog_level = "info"\n\n'
            + "\n".join(partners)
        )
        (tmp_path / "config.toml").write_text(text)

    def start(env: dict[str, str] | None = None) -> FtpbridgeRun:
        daemon = FtpbridgeRun(tmp_path, env)
        daemons.append(daemon)
        return daemon

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FTPBRIDGE, "--config", str(tmp_path / "config.toml"), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )

    write_config(partner_toml("acme", server))
    assert cli("orders", "load", str(EXAMPLES)).returncode == 0
    yield {
        "folder": tmp_path,
        "home": home,
        "server": server,
        "start": start,
        "cli": cli,
        "write_config": write_config,
    }
    for daemon in daemons:
        daemon.close()
    server.stop()


def uploaded_export(home: Path, partner: str = "acme") -> Path | None:
    files = [path for path in (home / partner / "out").iterdir() if path.suffix == ".csv"]
    return files[0] if len(files) == 1 and not files[0].name.startswith(".") else None


def drop_updated(export: Path, target: Path) -> None:
    frame = pd.read_csv(export, dtype=str, keep_default_na=False)
    frame["shipped"] = "TRUE"
    frame["shipped_date"] = pd.Timestamp.now(tz="UTC").date().isoformat()
    frame["carrier"] = "UPS"
    frame["tracking_number"] = UPS
    temporary = target.with_name("." + target.name + ".tmp")
    frame.to_csv(temporary, index=False)
    temporary.rename(target)


def counts(folder: Path) -> tuple[int, int, int]:
    """(shipped items, audit rows, imports in the ledger) straight from the SQLite file."""
    with sqlite3.connect(folder / "store.db") as connection:
        shipped = connection.execute(
            "select count(*) from items where status='shipped'"
        ).fetchone()[0]
        audit = connection.execute("select count(*) from audit").fetchone()[0]
        imports = connection.execute(
            "select count(*) from files where direction='import' and state='applied'"
        ).fetchone()[0]
    return shipped, audit, imports


def test_full_cycle_then_clean_stop(site: dict[str, Any]) -> None:
    """The daemon catches up today's missed export, takes the fulfiller's file, archives it
    with its report, and exits 0 on SIGTERM; status shows the partner healthy."""
    home = site["home"]
    daemon = site["start"]()
    export = wait_for(lambda: uploaded_export(home), "the export upload")
    drop_updated(export, home / "acme" / "in" / UPDATED)
    wait_for(lambda: (home / "acme" / "in" / "archive" / UPDATED).exists(), "the archive")
    assert (home / "acme" / "in" / "archive" / (UPDATED + ".report.csv")).exists()
    assert counts(site["folder"]) == (17, 68, 1)
    status = site["cli"]("status", "--format", "json")
    row = json.loads(status.stdout)[0]
    assert row["last_export"]["items"] == 17
    assert row["consecutive_failures"] == 0 and row["stale"] is False
    assert daemon.stop() == 0
    events = [event.get("event") for event in daemon.events()]
    stopping = events.index("stopping: no new work; waiting for running steps")
    assert events[-1] == "ftpbridge stopped" and stopping < len(events) - 1
    assert "steps still running were abandoned" not in events
    assert "Traceback" not in daemon.log()


def test_restart_does_not_upload_a_second_file_the_same_day(site: dict[str, Any]) -> None:
    """A restart on the same day finds today's upload in the ledger and sends nothing new."""
    home = site["home"]
    first = site["start"]()
    wait_for(lambda: uploaded_export(home), "the export upload")
    assert first.stop() == 0
    second = site["start"]()
    wait_for(lambda: any(e.get("event") == "poll finished" for e in second.events()), "a poll")
    assert second.stop() == 0
    assert len(list((home / "acme" / "out").iterdir())) == 1


@pytest.mark.parametrize(
    "step", ["download", "parse", "apply", "commit", "archive", "report_upload"]
)
def test_kill_during_poll_then_restart_applies_exactly_once(
    site: dict[str, Any], step: str
) -> None:
    """SIGKILL at any step of a poll cycle, then a restart: every row applied exactly once,
    the file archived once, nothing half-written."""
    home = site["home"]
    normal = site["start"]()
    export = wait_for(lambda: uploaded_export(home), "the export upload")
    assert normal.stop() == 0
    drop_updated(export, home / "acme" / "in" / UPDATED)
    crashing = site["start"]({"FTPBRIDGE_CRASH_AT": step})
    crashing.process.wait(timeout=30)
    assert crashing.process.returncode == -signal.SIGKILL
    crashing.log_file.close()
    again = site["start"]()
    wait_for(lambda: (home / "acme" / "in" / "archive" / UPDATED).exists(), "the archive")
    wait_for(
        lambda: (home / "acme" / "in" / "archive" / (UPDATED + ".report.csv")).exists(),
        "the report",
    )
    assert again.stop() == 0
    assert counts(site["folder"]) == (17, 68, 1)
    leftovers = [p.name for p in (home / "acme" / "in").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize("step", ["export_write", "upload", "rename"])
def test_kill_during_export_then_restart_uploads_one_complete_file(
    site: dict[str, Any], step: str
) -> None:
    """SIGKILL during an export cycle, then a restart: exactly one complete file in the
    outbox, never a partial one under the final name."""
    home = site["home"]
    crashing = site["start"]({"FTPBRIDGE_CRASH_AT": step})
    crashing.process.wait(timeout=30)
    assert crashing.process.returncode == -signal.SIGKILL
    crashing.log_file.close()
    again = site["start"]()
    wait_for(
        lambda: (
            any(e.get("event") == "export finished" for e in again.events())
            or any(e.get("event") == "export skipped" for e in again.events())
        ),
        "the export at restart",
    )
    assert again.stop() == 0
    names = sorted(path.name for path in (home / "acme" / "out").iterdir())
    assert len(names) == 1 and not names[0].startswith(".")
    frame = pd.read_csv(home / "acme" / "out" / names[0], dtype=str)
    assert len(frame) == 17


def test_dead_server_does_not_stop_the_other_partner(site: dict[str, Any]) -> None:
    """One partner's server refuses connections: the other partner is exported and polled
    as usual, and status shows the failures and an alert for the dead one."""
    home = site["home"]
    dead_port = free_port()
    site["write_config"](
        partner_toml("acme", site["server"], skus="55*"),
        partner_toml("bravo", site["server"], port=dead_port, skus="*", alert_after=2),
    )
    site["cli"]("orders", "load", str(EXAMPLES))
    daemon = site["start"]()
    export = wait_for(lambda: uploaded_export(home, "acme"), "acme's export")
    drop_updated(export, home / "acme" / "in" / UPDATED)
    wait_for(lambda: (home / "acme" / "in" / "archive" / UPDATED).exists(), "acme's archive")

    def bravo_alerting() -> bool:
        rows = json.loads(site["cli"]("status", "--format", "json").stdout)
        bravo = next(row for row in rows if row["name"] == "bravo")
        return bravo["consecutive_failures"] >= 2 and bravo["last_error"]

    wait_for(bravo_alerting, "bravo's failures in status")
    assert daemon.stop() == 0
    assert any(e.get("event") == "alert" and e.get("partner") == "bravo" for e in daemon.events())
    status = site["cli"]("status")
    assert status.returncode == 1
    assert "ALERT" in status.stdout


def test_sighup_with_broken_config_keeps_running_on_the_old_one(site: dict[str, Any]) -> None:
    """SIGHUP with an invalid config logs the error and keeps polling with the old config."""
    daemon = site["start"]()
    wait_for(lambda: any(e.get("event") == "poll finished" for e in daemon.events()), "a poll")
    (site["folder"] / "config.toml").write_text("[partners.acme]\ntransport = 42\n")
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(
        lambda: any("keeping the old one" in str(e.get("event")) for e in daemon.events()),
        "the reload error",
    )
    polls_before = sum(e.get("event") == "poll finished" for e in daemon.events())
    wait_for(
        lambda: sum(e.get("event") == "poll finished" for e in daemon.events()) > polls_before + 1,
        "polls after the failed reload",
    )
    assert daemon.process.poll() is None
    assert daemon.stop() == 0


def test_sigterm_during_a_slow_download_exits_cleanly(tmp_path: Path) -> None:
    """SIGTERM while a large file crawls in: the daemon takes no new work, lets the running
    step finish or abandons it after its grace period (its log says which), exits 0, and
    the next run still applies the file exactly once."""
    home = tmp_path / "ftp"
    (home / "acme" / "in").mkdir(parents=True)
    (home / "acme" / "out").mkdir(parents=True)
    server = start_ftp_server(home, throttle_bytes_per_second=20_000)
    try:
        config = (
            f'[store]\nurl = "sqlite:///{tmp_path / "store.db"}"\n'
            f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n\n'
            + partner_toml("acme", server, export_cron="59 23 31 12 *")
        )
        (tmp_path / "config.toml").write_text(config)
        subprocess.run(
            [FTPBRIDGE, "--config", str(tmp_path / "config.toml"), "orders", "load", str(EXAMPLES)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        export = tmp_path / "export.csv"
        subprocess.run(
            [
                FTPBRIDGE,
                "--config",
                str(tmp_path / "config.toml"),
                "export",
                "--partner",
                "acme",
                "--out",
                str(export),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        frame = pd.read_csv(export, dtype=str, keep_default_na=False)
        frame["shipped"] = "TRUE"
        frame["shipped_date"] = pd.Timestamp.now(tz="UTC").date().isoformat()
        frame["carrier"] = "UPS"
        frame["tracking_number"] = UPS
        frame["padding"] = "x" * 10_000  # about 170 kB: several seconds at 20 kB/s
        frame.to_csv(home / "acme" / "in" / UPDATED, index=False)
        daemon = FtpbridgeRun(tmp_path)
        wait_for(lambda: any((tmp_path / "state" / "staging" / "acme").glob(".*")), "the download")
        assert daemon.stop(timeout=60) == 0
        events = [event.get("event") for event in daemon.events()]
        assert "stopping: no new work; waiting for running steps" in events
        finished = "ftpbridge stopped" in events
        abandoned = "steps still running were abandoned" in events
        assert finished != abandoned, events  # one way or the other, said in the log
        assert counts(tmp_path) == ((17, 68, 1) if finished else (0, 0, 0))  # never half
        again = FtpbridgeRun(tmp_path)
        wait_for(lambda: (home / "acme" / "in" / "archive" / UPDATED).exists(), "the archive", 60)
        assert again.stop() == 0
        assert counts(tmp_path) == (17, 68, 1)
    finally:
        server.stop()


def test_failed_export_is_retried_until_it_works(site: dict[str, Any]) -> None:
    """An export whose upload fails (the outbox cannot be created) is retried with backoff
    and succeeds once the problem is fixed, without a restart."""
    home = site["home"]
    out = home / "acme" / "out"
    out.rmdir()
    out.write_text("a file where the outbox folder should be")
    config = site["folder"] / "config.toml"
    config.write_text(
        config.read_text().replace("[daemon]\n", "[daemon]\nexport_retry_seconds = 0.5\n")
    )
    daemon = site["start"]()
    wait_for(
        lambda: any(e.get("event") == "export will be retried" for e in daemon.events()), "a retry"
    )
    out.unlink()
    out.mkdir()
    wait_for(lambda: uploaded_export(home), "the upload after the retry")
    assert daemon.stop() == 0
    assert any(e.get("event") == "export failed" for e in daemon.events())


def test_systemd_notifications(site: dict[str, Any], tmp_path: Path) -> None:
    """Under systemd the daemon sends READY=1 once scheduled, WATCHDOG=1 from the
    scheduler's loop, and STOPPING=1 on shutdown, to $NOTIFY_SOCKET."""
    address = tmp_path / "notify.sock"
    with notify_listener(address) as messages:
        daemon = site["start"]({"NOTIFY_SOCKET": str(address), "WATCHDOG_USEC": "1000000"})
        wait_for(lambda: any("READY=1" in m for m in messages), "READY=1")
        wait_for(lambda: sum("WATCHDOG=1" in m for m in messages) >= 2, "two watchdog pings")
        assert daemon.stop() == 0
        wait_for(lambda: any("STOPPING=1" in m for m in messages), "STOPPING=1")


def test_a_clean_stop_removes_the_run_lock(site: dict[str, Any]) -> None:
    """The SQLite run lock beside the store exists while the daemon runs and is gone after
    SIGTERM; the next daemon starts as usual (issue 11 item 22)."""
    lock = site["folder"] / "store.db.run-lock"
    daemon = site["start"]()
    wait_for(daemon.running, "the daemon to run")
    assert lock.exists()
    assert daemon.stop() == 0
    assert not lock.exists()
    again = site["start"]()
    wait_for(again.running, "the second daemon to run")
    assert again.stop() == 0
    assert not lock.exists()


def test_old_local_files_are_removed_at_start(site: dict[str, Any]) -> None:
    """[daemon] keep_local_days: an archived copy older than that is gone once the daemon
    has started; a recent one stays (issue 11 item 6)."""
    import os
    import time

    archive = site["folder"] / "state" / "archive" / "acme"
    archive.mkdir(parents=True)
    old, recent = archive / "20250101T000000Z_old.csv", archive / "20261130T000000Z_new.csv"
    for path in (old, recent):
        path.write_text("x", encoding="utf-8")
    stamp = time.time() - 200 * 86400
    os.utime(old, (stamp, stamp))
    config = site["folder"] / "config.toml"
    text = config.read_text().replace('"info"', '"info"\nkeep_local_days = 90')
    config.write_text(text)
    daemon = site["start"]()
    wait_for(lambda: not old.exists(), "the old copy to be removed")
    assert daemon.stop() == 0
    assert recent.exists()
    assert any(event.get("event") == "old local files removed" for event in daemon.events())
