"""Servers that lie and misbehave, and shares with odd entries (issue 12): pyftpdlib
handlers subclassed to lie (a size announced that is not what is sent, an endless RETR, a
trickle, an endless listing, a refusal of one file), OpenSSH with symlinks and FIFOs, a
local share with odd entries.

Each case proves the contract a user may rely on afterwards: never more than the limits
on disk or in memory, never a hung job, every other file taken, nothing lost or applied
twice; the figures go to ``scripts/reliability`` (``figures``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import Figures
from tests.reliability.liars import (
    ENDLESS,
    ENDLESS_LISTING_CAP,
    Lie,
    LieStats,
    endless_listing,
    lying,
)
from tests.reliability.support import (
    FTPBRIDGE,
    UPDATED,
    Site,
    acme_on,
    archived,
    assert_clean,
    cli,
    job,
    make_site,
    write_config,
)
from tests.servers import start_ftp_server


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
    run = job(site)
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
    run = job(site)
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
    assert job(site).ok is True
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
    run = job(site)
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
