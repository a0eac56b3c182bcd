"""The fault matrix: servers that are down, slow, strict or broken, connections cut in the
middle of a transfer, a locked store, a full staging disk, an archive folder we may not
write, a file renamed while it downloads, a manual import racing the daemon.

Every case runs the daemon's own job function (``run_job``: the same code ``ftpbridge run``
schedules) against real servers on 127.0.0.1 (pyftpdlib, OpenSSH's sshd), then proves:
each file applied exactly once (ledger keyed on sha256, one set of audit rows per item), no
update lost, no partial file under a final name on either side, the other partner served
while the broken one still tries, and the problem visible in ``status`` and in the log.
The figures go to ``scripts/reliability`` through the ``figures`` fixture.

Nothing here sleeps or measures a duration: the tests wait for what the servers and the
job say (a login in sshd's log, a transfer the FTP server holds, the retries logged).

Already proven elsewhere and not repeated here: the same updated file dropped twice under
two names (tests/integration/test_exchange.py::test_same_file_under_two_names_is_applied_once,
on every transport and both stores), and SIGKILL inside the real daemon
(tests/daemon/test_daemon.py; test_crash_steps.py here adds every step on FTP and SFTP).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ftpbridge.exchange.check import run_check
from ftpbridge.transport import open_transport
from tests.reliability.conftest import Figures
from tests.reliability.support import (
    FTPBRIDGE,
    ITEMS,
    UPDATED,
    DeadEnd,
    Site,
    Tally,
    acme_on,
    archived,
    assert_clean,
    assert_export_clean,
    frozen_sessions,
    ftp_table,
    job,
    jobs_side_by_side,
    make_site,
    no_partial_files,
    open_item_ids,
    outbox_complete,
    process_tree,
    record_and_check,
    status_of,
    tally,
    wait_for,
    write_config,
)
from tests.servers import FTPServer, free_port, start_ftp_server

BOTH = ["ftp", "sftp"]
RACE_ROUNDS = 3  # the same in the quick and the full run: only fuzz example counts differ


@pytest.fixture
def bravo(tmp_path: Path) -> Iterator[FTPServer]:
    """The other partner's server: healthy, plain FTP."""
    home = tmp_path / "bravo-ftp"
    home.mkdir()
    with start_ftp_server(home) as server:
        yield server


def two_partner_site(
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    bravo: FTPServer,
    acme_table: dict[str, Any] | None = None,
    **server_options: Any,
) -> tuple[Site, Any]:
    table, disk, owner, server = acme_on(kind, tmp_path, request, **server_options)
    table.update(acme_table or {})
    site = make_site(
        tmp_path,
        {"acme": table, "bravo": ftp_table(bravo, "/bravo")},
        {"acme": disk, "bravo": bravo.home / "bravo"},
        owners={"acme": owner},
    )
    site.drop(UPDATED, "acme")
    site.drop(UPDATED, "bravo")
    return site, server


# --------------------------------------------------------------------------- server down

DOWN_FAULTS = ["refused", "black_hole", "unknown_host", "stalled_banner"]


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("fault", DOWN_FAULTS)
def test_server_down_is_reported_others_served_file_taken_once_back(
    fault: str,
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    bravo: FTPServer,
    figures: Figures,
) -> None:
    """acme's server refuses connections, drops them (black hole), has a name that does not
    resolve, or accepts and never answers: acme's poll gives up after its four attempts
    (three retries logged), bravo's poll (same moment, same pool) is served while acme's
    still tries, status and log say what failed; once the server is back, acme's file is
    applied exactly once."""
    site, _server = two_partner_site(kind, tmp_path, request, bravo)
    real = dict(site.raw["partners"]["acme"])
    dead: DeadEnd | None = None
    if fault == "unknown_host":
        site.rebuild(acme={"host": "ftp.partner.invalid", "timeout": 1})
    elif fault == "refused":
        site.rebuild(acme={"port": free_port(), "timeout": 1})  # nothing listens there
    else:
        dead = DeadEnd(fault.removesuffix("_banner"))
        site.rebuild(acme={"port": dead.port, "timeout": 1})
    try:
        runs = jobs_side_by_side(site, {"acme": "poll", "bravo": "poll"})
    finally:
        if dead is not None:
            dead.close()
    acme, other = runs["acme"], runs["bravo"]
    assert acme.ok is False
    assert other.ok is True
    assert archived(site, partner="bravo")
    # Bounded: four attempts, and acme's backoff alone (0.5 + 1 + 2 s) outlasts bravo's
    # whole poll, so bravo's finish comes before acme's failure in the shared log: bravo
    # did not wait for acme.
    assert len(acme.retries("acme")) == 3, acme.text()
    events = [(e.get("event"), e.get("partner")) for e in acme.logs]
    assert events.index(("poll finished", "bravo")) < events.index(("poll failed", "acme"))
    status = status_of(site)
    assert status["consecutive_failures"] == 1
    assert status["last_error"] and site.settings.partners["acme"].host in status["last_error"]
    assert status_of(site, "bravo")["consecutive_failures"] == 0
    failed = [e for e in acme.logs if e.get("event") == "poll failed"]
    assert [e.get("partner") for e in failed] == ["acme"], acme.text()
    assert (site.inbox() / UPDATED).exists()

    site.rebuild(acme=real)
    back = job(site)
    assert back.ok is True, back.text()
    assert archived(site)
    assert status_of(site)["consecutive_failures"] == 0
    assert_clean(site, figures, f"server {fault} ({kind})", files=2, shipped=17)


@pytest.mark.parametrize("kind", BOTH)
def test_wrong_password_is_tried_once_per_poll(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """A wrong password costs exactly one login attempt per poll (servers ban addresses
    that keep trying), the failures count up in status with the server's answer, and the
    file is taken once the password is fixed."""
    site, server = two_partner_site(kind, tmp_path, request, bravo)

    def failed_logins() -> int:
        """Password attempts the server has seen since the test began, counted once the
        server is done with every connection of the finished poll: pyftpdlib counts PASS
        before it answers; sshd logs a connection's lines before its end."""
        if kind == "ftp":
            return int(server.stats.commands["PASS"]) - mark
        wait_for(lambda: not server.open_connections(mark), "sshd to log the connections' end")
        return int(server.failed_password_count(since=mark))

    mark = server.log_mark() if kind == "sftp" else server.stats.commands["PASS"]
    site.rebuild(acme={"password": "not-the-password"})
    for attempt in (1, 2):
        run = job(site)
        assert run.ok is False
        assert failed_logins() == attempt
        assert "retrying" not in run.text()
        status = status_of(site)
        assert status["consecutive_failures"] == attempt
        assert "refused the" in (status["last_error"] or "")
        assert "not-the-password" not in run.text()
    site.rebuild(acme={"password": server.password})
    assert job(site).ok is True
    assert archived(site)
    assert_clean(site, figures, f"wrong password ({kind})", files=1, shipped=ITEMS["acme"])


def test_passive_port_closed_fails_clearly_and_active_mode_works(
    tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """The server announces a passive port that nothing can connect to (a firewall
    rejecting the passive range): the poll fails (retried, bounded), status and log say so,
    ``check`` points at the passive port, and with ``passive = false`` the file is taken
    exactly once."""
    site, _server = two_partner_site("ftp", tmp_path, request, bravo, passive_port_closed=True)
    run = job(site)
    assert run.ok is False
    assert len(run.retries()) == 3, run.text()  # four attempts, then it gives up
    status = status_of(site)
    assert status["consecutive_failures"] == 1
    # Refused, or reset when the connect meets the port while it closes: either way the
    # data connection to the announced passive port could not be made.
    error = (status["last_error"] or "").lower()
    assert "cannot list" in error and ("refused" in error or "reset" in error), error
    report = run_check(site.settings, site.partner())
    failed = [step for step in report.steps if not step.ok]
    assert failed and failed[0].name == "list inbox"
    assert "passive" in (failed[0].hint or "")
    site.rebuild(acme={"passive": False})
    assert job(site).ok is True
    assert archived(site)
    assert_clean(site, figures, "passive port closed (ftp)", files=1, shipped=ITEMS["acme"])


# --------------------------------------------------------------------------- slow, cut


def test_stalled_download_times_out_then_completes(
    tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """A server that sends the first block of a file and then nothing (throttled to a
    crawl): every attempt ends after ``timeout``, nothing half-downloaded stays in staging,
    nothing is applied; the server still lists its inbox, so it is this file that cannot
    be taken (issue 12): counted on the file with the reason, in status, the poll itself
    fine; the same file from a healthy server is applied exactly once."""
    site, server = two_partner_site(
        "ftp", tmp_path, request, bravo, throttle_bytes_per_second=2_000
    )
    site.drop(UPDATED, padding=400_000)
    site.rebuild(acme={"timeout": 1})
    run = job(site)
    assert run.ok is True, run.text()
    retries = run.retries()
    assert len(retries) == 3, run.text()  # four attempts, each ended by the timeout
    assert all("timed out" in str(entry.get("error")) for entry in retries), run.text()
    stuck = status_of(site)["stuck_files"]
    assert [entry["file"] for entry in stuck] == [UPDATED]
    assert "timed out" in (stuck[0]["last_error"] or "")
    assert tally(site.store, files=0, shipped=0).files_applied == 0
    healthy = start_ftp_server(server.home)
    request.addfinalizer(healthy.stop)
    site.rebuild(acme={"port": healthy.port, "timeout": 5})
    assert job(site).ok is True
    assert archived(site)
    assert_clean(site, figures, "server stalls mid-download (ftp)", files=1, shipped=13)


def test_sftp_session_frozen_mid_download_times_out_and_retries(
    tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """The SSH session process is frozen in the middle of a download (SIGSTOP, then
    killed): the transfer times out, the transport reconnects (sshd logs a new login while
    the old session is still frozen), and the file is applied exactly once."""
    site, sshd = two_partner_site("sftp", tmp_path, request, bravo)
    site.drop(UPDATED, padding=30_000_000)
    staging = site.settings.state_dir / "staging" / "acme"
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(run=job(site)))
    thread.start()
    partial = wait_for(lambda: list(staging.glob(f".{UPDATED}.*.part")), "the download")
    with frozen_sessions(sshd) as sessions:
        assert sessions
        mark = sshd.log_mark()
        size_when_frozen = partial[0].stat().st_size if partial[0].exists() else 0
        # The client gives up on the frozen session after its 2 s timeout and logs in anew.
        wait_for(lambda: "Accepted password for" in sshd.log()[mark:], "a new login", 60)
    thread.join(timeout=120)
    run = outcome["run"]
    assert run.ok is True, run.text()
    assert size_when_frozen < (site.inbox() / "archive" / UPDATED).stat().st_size
    assert "retrying" in run.text()
    assert_clean(site, figures, "session frozen mid-download (sftp)", files=1, shipped=13)


@pytest.mark.parametrize("cuts", [1, 5])
def test_ftp_connection_cut_mid_download(
    cuts: int, tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """The data connection is cut after 50 kB of a 300 kB file: one cut is retried within
    the poll; five cuts outlast the poll's four attempts: the file is not taken (counted
    on it with the reason, in status; the server still answers, so the poll itself is
    fine: issue 12), nothing applied, nothing left in staging, and the next poll takes
    the file, once."""
    site, _server = two_partner_site(
        "ftp", tmp_path, request, bravo, cut_data_after_bytes=50_000, cuts=cuts
    )
    site.drop(UPDATED, padding=300_000)
    run = job(site)
    assert "retrying" in run.text()
    if cuts > 4:
        assert run.ok is True, run.text()
        assert [entry["failures"] for entry in status_of(site)["stuck_files"]] == [1]
        assert tally(site.store, files=0, shipped=0).files_applied == 0
        assert no_partial_files(site.settings.state_dir) == []
        run = job(site)
    assert run.ok is True, run.text()
    assert archived(site)
    assert status_of(site)["consecutive_failures"] == 0
    assert_clean(site, figures, f"{cuts} cut(s) mid-download (ftp)", files=1, shipped=13)


def test_sftp_session_killed_mid_download(
    tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """The session's sshd processes are killed (SIGKILL) while a 100 MB file downloads: the
    transport reconnects, downloads again, and the file is applied exactly once. (At
    loopback speed 30 MB was sometimes done before the kill landed.)"""
    site, sshd = two_partner_site("sftp", tmp_path, request, bravo)
    site.drop(UPDATED, padding=100_000_000)
    staging = site.settings.state_dir / "staging" / "acme"
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(run=job(site)))
    thread.start()
    wait_for(lambda: list(staging.glob(f".{UPDATED}.*.part")), "the download")
    sessions = process_tree(sshd.process.pid)
    assert sessions
    for pid in sessions:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    thread.join(timeout=120)
    run = outcome["run"]
    assert run.ok is True, run.text()
    assert "retrying" in run.text()
    assert_clean(site, figures, "session killed mid-download (sftp)", files=1, shipped=13)


@pytest.mark.parametrize("cuts", [1, 4])
def test_ftp_connection_cut_mid_upload(
    cuts: int, tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """The data connection is cut after 1 kB of the export upload: one cut is retried and
    the fulfiller sees one complete file; four cuts fail the export (status, log, the day
    given back, nothing under a final name) and the next run uploads it, complete, once."""
    site, _server = two_partner_site(
        "ftp", tmp_path, request, bravo, cut_data_after_bytes=1_000, cuts=cuts
    )
    expected = open_item_ids(site.store, "acme")
    run = job(site, kind="export")
    assert "retrying" in run.text()
    if cuts >= 4:
        assert run.ok is False
        assert list(site.outbox().iterdir()) == []
        status = status_of(site)
        assert status["consecutive_failures"] == 1 and status["last_error"]
        run = job(site, kind="export")
    assert run.ok is True, run.text()
    names = [path.name for path in site.outbox().iterdir()]
    assert len(names) == 1
    assert outbox_complete(site) == []
    assert_export_clean(site, figures, f"{cuts} cut(s) mid-upload (ftp)", expected_items=expected)


def test_sftp_session_killed_mid_upload(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """The session's sshd processes are killed while a 100 MB file uploads: the transport
    reconnects and uploads again; the final name only ever holds the complete file and no
    ``.part`` file is left. (An export is a few kB: the cut is made on a large file through
    the same upload path the export uses.)"""
    table, disk, owner, sshd = acme_on("sftp", tmp_path, request)
    (disk / "out").mkdir()
    os.chown(disk / "out", *owner)  # type: ignore[misc]
    local = tmp_path / "big.csv"
    local.write_bytes(os.urandom(100_000_000))
    seen_final_early: list[int] = []
    transport = open_transport("sftp", sshd.params(timeout=5))
    outcome: dict[str, Any] = {}

    def upload() -> None:
        with transport:
            transport.upload(local, table["outbox"] + "/big.csv")
        outcome["done"] = True

    thread = threading.Thread(target=upload)
    thread.start()
    wait_for(lambda: list((disk / "out").glob(".big.csv.*.part")), "the upload")
    for pid in process_tree(sshd.process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    final = disk / "out" / "big.csv"
    size = local.stat().st_size
    while thread.is_alive():  # look at the final name until the upload ends
        try:
            seen = final.stat().st_size
        except FileNotFoundError:
            seen = None
        if seen is not None and seen != size:
            seen_final_early.append(seen)
        thread.join(timeout=0.001)
    assert outcome.get("done")
    names = sorted(path.name for path in (disk / "out").iterdir())
    complete = int(final.exists() and final.read_bytes() == local.read_bytes())
    measured = Tally(
        files_expected=1,
        files_applied=complete,
        files_lost=1 - complete,
        applied_twice=None,  # one name holds one file: nothing to count twice here
        updates_expected=None,  # raw bytes, no items
        updates_lost=None,
        partial_files=len(seen_final_early) + len([name for name in names if name != "big.csv"]),
    )
    record_and_check(figures, "session killed mid-upload (sftp)", measured)
    assert names == ["big.csv"]


# --------------------------------------------------------------------------- store


def _hold_write_lock(database: Path) -> subprocess.Popen[str]:
    """Another process takes SQLite's write lock (BEGIN IMMEDIATE) and keeps it until a
    line arrives on its stdin (then it commits) or it is killed."""
    code = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
        "c.execute('COMMIT')\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_store_locked_briefly_waits_then_applies(
    tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """Another process holds SQLite's write lock while the poll needs it: the poll waits
    (busy timeout) instead of failing, and once the lock is let go it applies the file,
    once. The poll is known to be waiting: it listed the inbox (its next step writes what
    it saw) and has applied nothing while the lock is held."""
    site, server = two_partner_site("ftp", tmp_path, request, bravo)
    holder = _hold_write_lock(tmp_path / "store.db")
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(run=job(site)))
    try:
        thread.start()
        wait_for(lambda: server.stats.commands["MLSD"] >= 1, "the poll to list the inbox")
        assert thread.is_alive()
        assert not archived(site)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("release\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        thread.join(timeout=120)
    run = outcome["run"]
    assert run.ok is True, run.text()
    assert archived(site)
    assert_clean(site, figures, "store locked 2 s (sqlite)", files=1, shipped=13)


def test_store_locked_past_its_timeout_fails_cleanly_then_recovers(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    bravo: FTPServer,
    figures: Figures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process holds the write lock longer than the busy timeout (1 s here): the
    poll fails with a store error in the log (error level, since not even the failure can
    be recorded), nothing is applied or archived; after the lock is gone the next poll
    applies the file once."""
    from ftpbridge.store import engine

    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 1000)
    site, _server = two_partner_site("ftp", tmp_path, request, bravo)
    site.store.engine.dispose()  # new connections take the shorter busy timeout
    holder = _hold_write_lock(tmp_path / "store.db")
    try:
        run = job(site)
    finally:
        holder.kill()
        holder.wait()
    assert run.ok is False
    assert "poll failed" in run.events("warning"), run.text()
    assert "cannot record the job's outcome in the store" in run.events("error")
    assert "locked" in run.text()
    assert (site.inbox() / UPDATED).exists()
    assert job(site).ok is True
    assert archived(site)
    assert_clean(site, figures, "store locked past its timeout (sqlite)", files=1, shipped=13)


# --------------------------------------------------------------------------- disk, archive


def test_staging_disk_full(
    tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """Staging is a 1 MB tmpfs and the file is 2 MB: the download fails with 'No space left
    on device' in status and log, the partial download is removed, nothing applied; with
    room again the file is applied once (and kept in the local archive, another disk)."""
    site, _server = two_partner_site("ftp", tmp_path, request, bravo)
    site.drop(UPDATED, padding=2_000_000)
    staging = site.settings.state_dir / "staging"
    staging.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(staging)], check=True)
    request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(staging)], check=False))
    run = job(site)
    assert run.ok is False
    assert "No space left on device" in (status_of(site)["last_error"] or ""), run.text()
    assert "poll failed" in run.events("warning")
    assert no_partial_files(staging) == []
    assert tally(site.store, files=0, shipped=0).files_applied == 0
    subprocess.run(["mount", "-o", "remount,size=20m", str(staging)], check=True)
    run = job(site)
    assert run.ok is True, run.text()
    assert archived(site)
    kept = sorted(
        p.name.split("_", 1)[1] for p in (site.settings.state_dir / "archive" / "acme").iterdir()
    )
    assert kept == [UPDATED, UPDATED + ".report.csv"]
    assert_clean(site, figures, "staging disk full (tmpfs)", files=1, shipped=13)


@pytest.mark.parametrize("kind", BOTH)
def test_archive_folder_not_writable(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """The remote archive folder exists but we may not write there: the file is applied
    once, every poll fails at the archive step (status counts up, log says why) without
    applying it again, and once permission is given it is archived with its report."""
    archive_perm: dict[Path, str] = {}
    if kind == "ftp":
        home = tmp_path / "acme-ftp"
        (home / "acme" / "in" / "archive").mkdir(parents=True)
        archive_perm = {home / "acme" / "in" / "archive": "elr"}
    site, server = (
        two_partner_site(kind, tmp_path, request, bravo, permissions=archive_perm)
        if (kind == "ftp")
        else two_partner_site(kind, tmp_path, request, bravo)
    )
    archive = site.inbox() / "archive"
    if kind == "sftp":
        archive.mkdir()
        archive.chmod(0o755)  # root's: the SFTP user may not write into it
    for attempt in (1, 2):
        run = job(site)
        assert run.ok is False
        status = status_of(site)
        assert status["consecutive_failures"] == attempt
        assert "archive" in (status["last_error"] or ""), status["last_error"]
        assert (site.inbox() / UPDATED).exists()
    if kind == "ftp":
        server.stop()
        healthy = start_ftp_server(server.home)
        request.addfinalizer(healthy.stop)
        site.rebuild(acme={"port": healthy.port})
    else:
        os.chown(archive, *site.owners["acme"])  # type: ignore[misc]
    run = job(site)
    assert run.ok is True, run.text()
    assert archived(site)
    assert not (site.inbox() / UPDATED).exists()
    assert_clean(site, figures, f"archive not writable ({kind})", files=1, shipped=13)


# --------------------------------------------------------------------------- races


def test_files_renamed_while_a_poll_takes_them(
    tmp_path: Path, request: pytest.FixtureRequest, bravo: FTPServer, figures: Figures
) -> None:
    """The fulfiller renames two listed files while the first one downloads: the
    download completes from the open file and is applied once, its old name being gone at
    the archive step is a warning, not a failure; the second file, gone before its
    download, is skipped with a warning. The next poll finds both under their new names:
    the first already processed (archived, not applied again), the second taken. The
    server holds the first download after 100 kB until the renames are done."""
    # This case is about renames, not timeouts: 15 s, should the machine be slow to
    # rename while the server holds the transfer.
    site, server = two_partner_site(
        "ftp",
        tmp_path,
        request,
        bravo,
        acme_table={"timeout": 15},
        hold_after_bytes=100_000,
    )
    site.drop(UPDATED, padding=600_000)
    second = "zz_updated_2.csv"
    site.drop(second, padding=10)  # the same updates, other bytes: a file of its own
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(run=job(site)))
    thread.start()
    try:
        assert server.stats.held.wait(timeout=60), "the download never started"
        renamed = "renamed_updated_again.csv"
        (site.inbox() / UPDATED).rename(site.inbox() / renamed)
        (site.inbox() / second).rename(site.inbox() / ("renamed_" + second))
    finally:
        server.stats.release.set()
        thread.join(timeout=120)
    run = outcome["run"]
    assert run.ok is True, run.text()
    warnings = run.events("warning")
    assert "file gone from the inbox before it could be archived" in warnings, run.text()
    assert "file gone from the inbox before it was downloaded; skipped" in warnings
    assert status_of(site)["consecutive_failures"] == 0
    again = job(site)
    assert again.ok is True, again.text()
    assert (site.inbox() / "archive" / renamed).exists()
    assert (site.inbox() / "archive" / ("renamed_" + second)).exists()
    assert_clean(site, figures, "files renamed while a poll takes them (ftp)", files=2, shipped=13)


@pytest.mark.parametrize("store_backend", ["sqlite", "postgresql"])
def test_manual_import_races_the_poll(
    store_backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    figures: Figures,
) -> None:
    """``ftpbridge import`` of the very file ``ftpbridge poll --once`` is taking, started
    at the same moment as two processes: one applies it, the other finds it processed;
    exactly once, no traceback, the file archived."""
    for number in range(RACE_ROUNDS):
        folder = tmp_path / f"round-{number}"
        folder.mkdir()
        store_url = None
        if store_backend == "postgresql":
            server = request.getfixturevalue("pg_server")
            store_url = server.create_database(template=request.getfixturevalue("pg_template"))
        home = folder / "ftp"
        (home / "acme").mkdir(parents=True)
        with start_ftp_server(home) as ftp:
            site = make_site(
                folder,
                {"acme": ftp_table(ftp, "/acme", timeout=10)},
                {"acme": home / "acme"},
                store_url=store_url,
            )
            dropped = site.drop(UPDATED)
            manual = folder / "manual" / UPDATED
            manual.parent.mkdir()
            shutil.copyfile(dropped, manual)
            config = write_config(site)
            env = {k: v for k, v in os.environ.items() if not k.startswith("FTPBRIDGE_")}
            commands = [
                [FTPBRIDGE, "--config", str(config), "poll", "--partner", "acme", "--once"],
                [FTPBRIDGE, "--config", str(config), "import", "--partner", "acme", str(manual)],
            ]
            processes = [
                subprocess.Popen(
                    c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
                )
                for c in commands
            ]
            results = [process.communicate(timeout=120) for process in processes]
            for process, (stdout, stderr) in zip(processes, results, strict=True):
                assert process.returncode == 0, (stdout, stderr)
                assert "Traceback" not in stdout + stderr
            assert archived(site)
            assert_clean(
                site,
                figures,
                f"manual import races the poll ({store_backend})",
                files=1,
                shipped=17,
            )
            site.store.close()
