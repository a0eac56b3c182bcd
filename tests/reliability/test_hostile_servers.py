"""Servers that lie and misbehave, and shares with odd entries (issue 12): pyftpdlib
handlers subclassed to lie (a size announced that is not what is sent, an endless RETR, a
trickle, an endless listing, a refusal of one file), OpenSSH with symlinks and FIFOs, a
local share with odd entries.

Each case proves the contract a user may rely on afterwards: never more than the limits
on disk or in memory, never a hung job, every other file taken, nothing lost or applied
twice; the figures go to ``scripts/reliability`` (``figures``).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import paramiko
import pytest

from tests.reliability.conftest import Figures
from tests.reliability.liars import (
    ENDLESS,
    ENDLESS_LISTING_CAP,
    TRICKLE_CAP,
    Lie,
    LieStats,
    endless_banner,
    endless_listing,
    lying,
)
from tests.reliability.support import (
    FTPBRIDGE,
    UPDATED,
    Site,
    Tally,
    acme_on,
    archived,
    assert_clean,
    bounded_job,
    cli,
    make_site,
    wait_for,
    write_config,
)
from tests.runs import FtpbridgeRun
from tests.servers import notify_listener, ssh_fingerprint, start_ftp_server

pytestmark = pytest.mark.hostile  # listed one by one by scripts/reliability


def test_encrypted_key_without_passphrase_is_a_clear_error(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """An SFTP key protected by a passphrase (OpenSSH's own format, what ssh-keygen
    writes), with no passphrase configured: ``poll`` and ``check`` say which key file and
    which setting (``private_key_passphrase``), exit 3; never an internal error."""
    table, disk, owner, sshd = acme_on("sftp", tmp_path, request)
    key, _passphrase = sshd.client_keys["rsa"]
    table.update(password=None, private_key=str(key))
    del table["password"]
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    unhandled = 0
    for command in (["poll"], ["check", "--partner", "acme"]):
        result = cli(site, *command)
        output = result.stdout + result.stderr
        ok = (
            result.returncode == 3
            and str(key) in output
            and "private_key_passphrase" in output
            and "Internal error" not in output
        )
        unhandled += not ok
        assert ok, (command, result.returncode, output)
    figures.bad_input("encrypted SFTP key, no passphrase", tried=2, unhandled=unhandled)


# --------------------------------------------------------------------------- item 1


LIMIT = 1_000_000  # max_file_bytes in these cases
LIAR = "liar_updated_1.csv"


def limited_site(
    tmp_path: Path, request: pytest.FixtureRequest, kind: str = "ftp", **server_options: Any
) -> tuple[Site, Any]:
    """acme on a fresh server (``server_options`` for the FTP one) with max_file_bytes at
    1 MB, the sample orders loaded, and the fulfiller's good file in the inbox."""
    table, disk, owner, server = acme_on(kind, tmp_path, request, **server_options)
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    site.raw["daemon"]["max_file_bytes"] = LIMIT
    site.rebuild()
    site.drop(UPDATED)
    return site, server


def nothing_over_the_limit_kept(site: Site) -> list[str]:
    """Files over the limit anywhere in the state directory (staging, local archive)."""
    return [
        f"{path} ({path.stat().st_size} bytes)"
        for path in site.settings.state_dir.rglob("*")
        if path.is_file() and path.stat().st_size > LIMIT
    ]


@pytest.mark.parametrize(
    "lie",
    [
        Lie(announce=1, send=100_000_000),
        Lie(hide_size=True, send=100_000_000),
        Lie(announce=1, send=ENDLESS),
    ],
    ids=["announces 1 byte, sends 100 MB", "no size, sends 100 MB", "endless RETR"],
)
def test_a_server_sending_more_than_it_announced_is_stopped_at_the_limit(
    lie: Lie, tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """The download stops at the limit plus one block whatever the server says; the file
    is refused as too large (once: not retried), goes to errors_dir with a report saying
    why, nothing over the limit is kept anywhere, and the good file in the same inbox is
    taken in the same poll."""
    stats = LieStats()
    site, _server = limited_site(tmp_path, request, customise=lying({LIAR: lie}, stats))
    (site.inbox() / LIAR).write_bytes(b"order_id,item_id\r\n")
    run = bounded_job(site)[0]
    assert run.ok is True, run.text()
    assert stats.transfers == {LIAR: 1}  # downloaded once in this poll, never retried
    errors = site.inbox() / "errors"
    assert (errors / LIAR).exists()
    report = (errors / (LIAR + ".report.csv")).read_text(encoding="utf-8")
    assert "over the limit" in report and "max_file_bytes" in report
    assert nothing_over_the_limit_kept(site) == []
    assert archived(site)
    # What the server pushed before the client hung up: the limit and a few socket
    # buffers, never the 100 MB (or the endless stream).
    assert stats.bytes_sent[LIAR] < 20 * LIMIT, stats.bytes_sent
    with site.store.connect() as connection:
        state = connection.exec_driver_sql(
            "select state, message from files where name = ?", (LIAR,)
        ).all()
    assert [row[0] for row in state] == ["rejected"]
    assert_clean(
        site,
        figures,
        f"server lies about size: {request.node.callspec.id}",
        files=1,
        shipped=17,
    )


@pytest.mark.parametrize(
    ("mlsd", "size"),
    [(True, "²"), (True, "9" * 5000), (False, "9" * 5000)],
    ids=["MLSD size=²", "MLSD size of 5,000 digits", "LIST size of 5,000 digits"],
)
def test_a_size_the_listing_cannot_read_is_unknown_and_the_file_taken(
    mlsd: bool, size: str, tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """A server listing the fulfiller's file with the size "²" (str.isdigit says yes,
    int() raises) or 5,000 digits (more than int() reads): the size is unknown, the file
    is taken like any other (its download still bounded by max_file_bytes), ``ftpbridge
    poll`` exits 0. Before, the ValueError escaped the listing: exit 70 on every poll."""
    site, _server = limited_site(
        tmp_path, request, mlsd=mlsd, customise=lying({UPDATED: Lie(listed_size=size)})
    )
    done = cli(site, "poll")
    handled = done.returncode == 0 and "Traceback" not in done.stdout + done.stderr
    case = f"{'MLSD' if mlsd else 'LIST'} size {size[:3]!r} ({len(size):,} characters)"
    figures.bad_input(f"unreadable size in a listing: {case}", unhandled=int(not handled))
    assert handled, (done.returncode, done.stdout, done.stderr)
    assert archived(site)
    assert_clean(site, figures, f"unreadable listed size: {case}", files=1, shipped=17)


def test_sftp_checks_the_size_it_is_given_at_open(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """On SFTP the listing shows a symlink (a few bytes) that leads to a 2 MB file: the
    size at open is checked against the limit, nothing is read, the file is refused and
    moved to errors_dir, and the good file is taken."""
    site, sshd = limited_site(tmp_path, request, "sftp")
    big = site.inbox() / "big.bin"
    big.write_bytes(b"x" * (2 * LIMIT))
    site.give(big)
    link = site.inbox() / LIAR
    link.symlink_to("big.bin")
    sshd.chown_to_user(link)
    run = bounded_job(site)[0]
    assert run.ok is True, run.text()
    assert (site.inbox() / "errors" / LIAR).is_symlink()
    report = (site.inbox() / "errors" / (LIAR + ".report.csv")).read_text(encoding="utf-8")
    assert "over the limit" in report
    assert nothing_over_the_limit_kept(site) == []
    assert archived(site)
    assert_clean(site, figures, "file larger at open than listed (sftp)", files=1, shipped=17)


# --------------------------------------------------------------------------- item 3


def peak_memory_of(site: Site, *args: str) -> tuple[int, str, int]:
    """Run ``ftpbridge ARGS`` on the site's config as a process of its own; return its
    exit code, its output and its peak resident memory in bytes (from wait4: this
    process alone, not the test run)."""
    config = write_config(site)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTPBRIDGE_")}
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [FTPBRIDGE, "--config", str(config), *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=site.folder,
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    return process.returncode, text, usage.ru_maxrss * 1024


@pytest.mark.parametrize("mlsd", [True, False], ids=["MLSD", "LIST"])
def test_an_endless_listing_fails_the_poll_with_memory_flat(
    mlsd: bool, tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """A server whose MLSD (or LIST) answer never ends: ``ftpbridge poll`` stops reading
    past max_listing_entries (1,000 here), fails with a clear error naming the setting
    (exit 3) and its peak memory stays where a poll of an ordinary inbox has it (within
    64 MB; before, it grew with the answer: 10 GB in 30 s). The next poll of a sane
    server takes the file."""
    stats = LieStats()
    table, disk, owner, server = acme_on(
        "ftp", tmp_path, request, mlsd=mlsd, customise=endless_listing(stats)
    )
    table["max_listing_entries"] = 1_000
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    healthy = start_ftp_server(server.home, mlsd=mlsd)
    request.addfinalizer(healthy.stop)
    site.rebuild(acme={"port": healthy.port})
    code, output, baseline = peak_memory_of(site, "poll")
    assert code == 0, output
    site.rebuild(acme={"port": server.port})
    site.drop(UPDATED)
    code, output, peak = peak_memory_of(site, "poll")
    handled = code == 3 and "max_listing_entries" in output and "Traceback" not in output
    figures.bad_input(f"endless {'MLSD' if mlsd else 'LIST'} answer", unhandled=int(not handled))
    assert handled, output
    assert peak - baseline < 64 * 2**20, (peak, baseline)
    assert stats.listing_entries_sent < ENDLESS_LISTING_CAP
    site.rebuild(acme={"port": healthy.port})
    assert bounded_job(site)[0].ok is True
    assert archived(site)
    assert_clean(
        site, figures, f"endless listing ({'MLSD' if mlsd else 'LIST'})", files=1, shipped=17
    )


# --------------------------------------------------------------------------- item 5


def long_name(length: int, stem: str = "a") -> str:
    """An updated file's name of exactly ``length`` UTF-8 bytes."""
    tail = "_updated_1.csv"
    unit = len(stem.encode())
    count, rest = divmod(length - len(tail), unit)
    return stem * count + "b" * rest + tail


@pytest.mark.parametrize("kind", ["ftp", "sftp", "local"])
def test_names_up_to_255_bytes_are_taken(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """Files whose names take 222 to 255 bytes (ASCII, and two-byte letters) are taken in
    one poll: local names, report names and archive names are derived within the limit
    (a truncated name and a short hash), nothing stays in staging, and each file's
    report is uploaded next to it in the archive."""
    if kind == "local":
        share = tmp_path / "share"
        table = {
            "transport": "local",
            "path": str(share),
            "outbox": "/out",
            "inbox": "/in",
            "settle_seconds": 0,
        }
        disk, owner = share, None
    else:
        table, disk, owner, _server = acme_on(kind, tmp_path, request)
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    names = [long_name(222), long_name(240), long_name(255), long_name(255, "é")]
    assert [len(name.encode()) for name in names] == [222, 240, 255, 255]
    for number, name in enumerate(names):
        site.drop(name, padding=100 * number)  # other bytes each: four files of their own
    run = bounded_job(site)[0]
    assert run.ok is True, run.text()
    archive = site.inbox() / "archive"
    listed = sorted(path.name for path in archive.iterdir())
    for name in names:
        assert name in listed
        reports = [other for other in listed if other != name and other.endswith(".report.csv")]
        assert reports
    assert len(listed) == 2 * len(names)
    assert all(len(entry.encode()) <= 255 for entry in listed)
    assert list((site.settings.state_dir / "staging" / "acme").iterdir()) == []
    kept = list((site.settings.state_dir / "archive" / "acme").iterdir())
    assert len(kept) == 2 * len(names)
    # the same updates four times: applied once, then unchanged
    assert_clean(site, figures, f"names of 222-255 bytes ({kind})", files=4, shipped=17)


# --------------------------------------------------------------------------- item 4


def failures_on_file(site: Site, name: str) -> int:
    with site.store.connect() as connection:
        value = connection.exec_driver_sql(
            "select failures from sightings where partner = 'acme' and name = ?", (name,)
        ).scalar()
    return int(value or 0)


def test_a_file_refused_by_the_server_never_blocks_the_inbox(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """A 550 on RETR of one file: every other file is taken in the same poll; the refused
    one is reported with its reason and counted, tried again at each poll, and after
    alert_after (2 here) polls in a row it is moved to errors_dir with a report saying
    why, with an alert. The poll itself works throughout (exit 1 from the CLI: a file
    needs attention)."""
    bad = "refused_updated_1.csv"
    site, _server = limited_site(
        tmp_path, request, customise=lying({bad: Lie(refuse="550 Permission denied.")})
    )
    site.rebuild(acme={"alert_after": 2})
    (site.inbox() / bad).write_bytes(b"whatever\r\n")
    first = bounded_job(site)[0]
    assert first.ok is True, first.text()
    assert archived(site)  # the good one, in the same poll
    assert failures_on_file(site, bad) == 1
    stuck = json.loads(cli(site, "status", "--format", "json").stdout)[0]["stuck_files"]
    assert [(entry["file"], entry["failures"]) for entry in stuck] == [(bad, 1)]
    assert "550" in stuck[0]["last_error"]
    warning = [e for e in first.logs if e.get("event") == "file could not be taken; the others are"]
    assert warning and "550" in warning[0]["error"] and warning[0]["file"] == bad
    assert (site.inbox() / bad).exists()
    second = cli(site, "poll")
    assert second.returncode == 1, second
    assert f"{bad}: rejected as a whole: {bad} could not be taken in 2 polls" in second.stdout
    assert not (site.inbox() / bad).exists()
    assert (site.inbox() / "errors" / bad).exists()
    report = (site.inbox() / "errors" / (bad + ".report.csv")).read_text(encoding="utf-8")
    assert "could not be taken in 2 polls in a row" in report and "550" in report
    assert failures_on_file(site, bad) == 0
    assert_clean(site, figures, "550 on RETR of one file (ftp)", files=1, shipped=17)


def test_sftp_links_and_fifos_never_block_the_inbox(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """On OpenSSH: a symlink to a file the user may not read, a symlink to a folder and a
    FIFO, all matching the pattern: the good file is taken in the first poll; each odd
    entry is reported with its own reason (permission, not a regular file) and, after
    alert_after polls, moved to errors_dir with its report. Nothing is ever opened that
    could block the server (the FIFO is looked at, not opened)."""
    site, sshd = limited_site(tmp_path, request, "sftp")
    site.rebuild(acme={"alert_after": 2})
    inbox = site.inbox()
    secret = inbox / "secret.bin"
    secret.write_bytes(b"root only\n")
    secret.chmod(0o600)  # root's: the SFTP user may not read it
    (inbox / "folder").mkdir()
    odd = {
        "unreadable_updated_1.csv": "secret.bin",
        "folder_updated_1.csv": "folder",
    }
    for name, target in odd.items():
        (inbox / name).symlink_to(target)
        sshd.chown_to_user(inbox / name)
    fifo = inbox / "fifo_updated_1.csv"
    os.mkfifo(fifo)
    sshd.chown_to_user(fifo)
    first = bounded_job(site)[0]
    assert first.ok is True, first.text()
    assert archived(site)
    reasons = {
        e["file"]: e["error"]
        for e in first.logs
        if e.get("event") == "file could not be taken; the others are"
    }
    assert set(reasons) == {*odd, fifo.name}, first.text()
    assert "not a regular file" in reasons["folder_updated_1.csv"]
    assert "not a regular file" in reasons[fifo.name]
    second = bounded_job(site)[0]
    assert second.ok is True, second.text()
    assert "alert" in second.events("error")
    for name in [*odd, fifo.name]:
        assert os.path.lexists(inbox / "errors" / name), name
        assert (inbox / "errors" / (name + ".report.csv")).exists()
    assert_clean(site, figures, "symlinks and a FIFO in the inbox (sftp)", files=1, shipped=17)


def test_local_share_odd_entries_never_block_the_inbox(tmp_path: Path, figures: Figures) -> None:
    """A local share with a symlink leading out of it and a FIFO: the good file is taken;
    the FIFO is refused without being waited on and, after alert_after polls, moved to
    errors_dir; the link out of the share cannot be moved either (it leads outside), so
    it is skipped with an alert from then on, the poll going on with the rest."""
    share = tmp_path / "share"
    table = {
        "transport": "local",
        "path": str(share),
        "outbox": "/out",
        "inbox": "/in",
        "settle_seconds": 0,
        "alert_after": 2,
    }
    site = make_site(tmp_path, {"acme": table}, {"acme": share})
    site.drop(UPDATED)
    outside = tmp_path / "outside_updated.csv"
    outside.write_text("order_id,item_id\n", encoding="utf-8")
    (site.inbox() / "escape_updated_1.csv").symlink_to(outside)
    os.mkfifo(site.inbox() / "fifo_updated_1.csv")
    for _poll in range(2):
        run = bounded_job(site)[0]
        assert run.ok is True, run.text()
    assert archived(site)
    assert (site.inbox() / "errors" / "fifo_updated_1.csv").exists()
    alerts = [e for e in run.logs if e.get("event") == "alert"]
    assert any("escape_updated_1.csv" in e["message"] for e in alerts), run.text()
    assert (site.inbox() / "escape_updated_1.csv").is_symlink()
    third = cli(site, "poll")
    assert third.returncode == 1
    assert "escape_updated_1.csv: skipped" in third.stdout, third
    assert outside.read_text(encoding="utf-8") == "order_id,item_id\n"
    assert_clean(site, figures, "symlink out of a local share and a FIFO", files=1, shipped=17)


# --------------------------------------------------------------------------- item 2


def test_a_trickling_server_is_abandoned_counted_and_tried_again(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """One byte every 2 s (each within the 3 s socket timeout, so no timeout ever fires):
    with min_rate_bytes 1,000 the transfer is abandoned once it falls behind, counted as
    a failure of that file with the reason, the good file taken in the same poll, and
    the next poll tries it again."""
    slow = "slow_updated_1.csv"
    stats = LieStats()
    site, _server = limited_site(
        tmp_path, request, customise=lying({slow: Lie(trickle=2.0)}, stats)
    )
    site.rebuild(acme={"min_rate_bytes": 1_000, "timeout": 3, "alert_after": 3})
    (site.inbox() / slow).write_bytes(b"x" * 5_000)
    first = bounded_job(site)[0]
    assert first.ok is True, first.text()
    assert archived(site)
    failed = [e for e in first.logs if e.get("event") == "file could not be taken; the others are"]
    assert failed and "minimum rate" in failed[0]["error"], first.text()
    assert failures_on_file(site, slow) == 1
    assert stats.transfers[slow] == 1  # abandoned, not retried within the poll
    assert stats.bytes_sent[slow] < TRICKLE_CAP  # it did not run to the server's end
    second = bounded_job(site)[0]
    assert second.ok is True, second.text()
    assert stats.transfers[slow] == 2
    assert failures_on_file(site, slow) == 2
    assert (site.inbox() / slow).exists()
    assert_clean(site, figures, "server trickles a byte every 2 s (ftp)", files=1, shipped=17)


def test_a_job_stuck_where_no_timeout_reaches_stops_the_watchdog(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """``ftpbridge run`` under systemd's watchdog, against a server whose greeting never
    ends (a line every 0.3 s, each within the socket timeout: ftplib waits for the end of
    the greeting, where no transfer bound reaches): the job passes its deadline, is logged
    and counted as a failure in status, and once it is wedged the watchdog is no longer
    pinged (systemd would restart the service); what systemd is told instead says why."""
    table, disk, owner, server = acme_on("ftp", tmp_path, request, customise=endless_banner(0.3))
    table.update(timeout=1, poll_interval=1)
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    write_config(site)
    address = tmp_path / "notify.sock"
    with notify_listener(address) as messages:
        daemon = FtpbridgeRun(tmp_path, {"NOTIFY_SOCKET": str(address), "WATCHDOG_USEC": "1000000"})
        request.addfinalizer(daemon.close)
        try:
            wait_for(lambda: any("READY=1" in m for m in messages), "READY=1", 60)
            wait_for(lambda: "job past its deadline" in daemon.log(), "the deadline to pass", 60)
            wedged = wait_for(
                lambda: [i for i, m in enumerate(messages) if "wedged" in m], "the wedge", 60
            )
            # The watcher runs each half watchdog interval: three more of its runs after the
            # first "wedged" status, and not one ping among them.
            wait_for(
                lambda: sum("wedged" in m for m in messages[wedged[0] :]) >= 4,
                "three more runs of the watcher",
                60,
            )
            after = messages[wedged[0] :]
            assert not [m for m in after if "WATCHDOG=1" in m], after
            assert any("WATCHDOG=1" in m for m in messages[: wedged[0]])  # it pinged before
            status = json.loads(cli(site, "status", "--format", "json").stdout)[0]
            assert status["consecutive_failures"] >= 1
            assert "past its deadline" in (status["last_error"] or "")
            events = daemon.events()
            assert any(
                e.get("event") == "workers wedged: the watchdog is no longer pinged" for e in events
            )
            figures.fault(
                "job stuck in an endless greeting (ftp, daemon)",
                Tally(
                    files_expected=0,
                    files_applied=0,
                    files_lost=0,
                    applied_twice=None,
                    updates_expected=None,
                    updates_lost=None,
                    partial_files=0,
                    hung=0,  # the stuck job was seen, counted, and the watchdog withheld
                ),
            )
        finally:
            server.stop()  # the stuck job ends with its connection
    assert daemon.stop() == 0


# --------------------------------------------------------------------------- host keys


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed known_hosts"])
def test_a_changed_host_key_is_replaced_only_by_the_fingerprint_confirmed(
    hashed: bool, tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """known_hosts holds another key for the server (a reinstall, or someone in the
    middle): ``check`` fails naming the new fingerprint and the command; a bare
    ``--trust-host-key`` refuses and leaves known_hosts as it was (before: it appended a
    line and still failed); a wrong fingerprint is refused; the fingerprint shown, with
    ``--replace-host-key``, replaces the old key (hashed lines too): one key for the
    server, and every step works."""
    table, disk, owner, sshd = acme_on("sftp", tmp_path, request)
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    impostor = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)],
                   check=True, capture_output=True)  # fmt: skip
    entry = f"[{sshd.host}]:{sshd.port}"
    known_hosts = tmp_path / "known_hosts"
    kind, blob = impostor.with_suffix(".pub").read_text().split()[:2]
    known_hosts.write_text(
        f"# a comment kept\nother.example {kind} {blob}\n{entry} {kind} {blob}\n"
    )
    if hashed:
        subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known_hosts)], check=True,
                       capture_output=True)  # fmt: skip
    site.rebuild(acme={"known_hosts": str(known_hosts)})
    before = known_hosts.read_text()
    real = ssh_fingerprint(sshd.host_keys["ed25519"].with_suffix(".pub"))

    refused = cli(site, "check", "--partner", "acme")
    assert refused.returncode == 3
    assert "CHANGED" in refused.stdout and f"--trust-host-key {real} --replace-host-key" in (
        refused.stdout
    ), refused.stdout
    bare = cli(site, "check", "--partner", "acme", "--trust-host-key")
    assert bare.returncode == 3, bare
    assert "CHANGED" in bare.stderr and f"--trust-host-key {real} --replace-host-key" in bare.stderr
    assert known_hosts.read_text() == before
    wrong = cli(site, "check", "--partner", "acme", "--trust-host-key", "SHA256:" + "A" * 43,
                "--replace-host-key")  # fmt: skip
    assert wrong.returncode == 3 and "not trusted" in wrong.stderr, wrong
    assert known_hosts.read_text() == before
    replaced = cli(site, "check", "--partner", "acme", "--trust-host-key", real,
                   "--replace-host-key")  # fmt: skip
    assert replaced.returncode == 0, replaced
    assert "All steps worked." in replaced.stdout
    after = known_hosts.read_text().splitlines()
    kept = paramiko.HostKeys(str(known_hosts))
    real_blob = sshd.host_keys["ed25519"].with_suffix(".pub").read_text().split()[1]
    assert [key.get_base64() for key in kept.lookup(entry).values()] == [real_blob]
    assert [key.get_base64() for key in kept.lookup("other.example").values()] == [blob]
    assert "# a comment kept" in after
    assert stat.S_IMODE(known_hosts.stat().st_mode) == 0o600
    assert cli(site, "check", "--partner", "acme").returncode == 0
    figures.bad_input(f"changed host key ({'hashed' if hashed else 'plain'})", tried=3,
                      unhandled=0)  # fmt: skip
