"""Exports against an unlucky operator and a server that fails mid-way (issue 12 items 6
and 7, issue 11 item 7): two uploads of one partner at once on SQLite, the daemon's
upload raced by ``export --upload`` by hand, a failed upload in ``new_only`` mode.

The contract: an item counts as sent only when the file holding it is on the server under
its final name; exports of one partner take turns on every store; an upload never
deletes a file it did not write. Each case ends with the outbox measured
(``assert_export_clean``): one complete file, every open item in it, nothing partial.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import Figures
from tests.reliability.support import (
    FTPBRIDGE,
    Site,
    acme_on,
    assert_export_clean,
    bounded_job,
    cli,
    make_site,
    open_item_ids,
    write_config,
)

pytestmark = pytest.mark.hostile  # listed one by one by scripts/reliability

RACE_ROUNDS = 3


def export_site(
    tmp_path: Path, request: pytest.FixtureRequest, **server_options: Any
) -> tuple[Site, Any]:
    table, disk, owner, server = acme_on("ftp", tmp_path, request, **server_options)
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    return site, server


def item_statuses(site: Site) -> dict[str, int]:
    """How many of acme's open items (not cancelled) have each status."""
    with site.store.connect() as connection:
        rows = connection.exec_driver_sql(
            "select status, count(*) from items where partner = 'acme'"
            " and status != 'cancelled' group by status"
        ).all()
    return {str(status): int(count) for status, count in rows}


def start_export(site: Site, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTPBRIDGE_")}
    config = write_config(site)
    return subprocess.Popen(
        [FTPBRIDGE, "--config", str(config), "export", "--partner", "acme", "--upload", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=site.folder,
    )


@pytest.mark.parametrize("first", ["export --upload", "daemon job"])
@pytest.mark.parametrize("mode", ["all_unshipped", "new_only"])
def test_a_second_export_while_one_uploads_waits_its_turn(
    first: str, mode: str, tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """The first upload (``export --upload``, or the daemon's own job) is held by the
    server half-way; ``export --upload`` started meanwhile on the same SQLite store is
    refused (exit 2: another ftpbridge is exporting) and touches nothing: not the first's
    claim, not its local file, not the server. Once released, the first finishes: one
    complete file with every open item, marked only then (never DELE of a final name)."""
    site, server = export_site(tmp_path, request, hold_after_bytes=1_000)
    site.rebuild(acme={"export_mode": mode, "timeout": 30})
    expected = open_item_ids(site.store, "acme")
    holder: dict[str, Any] = {}
    if first == "daemon job":
        thread = threading.Thread(
            target=lambda: holder.update(run=bounded_job(site, kind="export"))
        )
        thread.start()
    else:
        process = start_export(site)
    try:
        assert server.stats.held.wait(timeout=60), "the first upload never reached the server"
        assert item_statuses(site) == {"pending": len(expected)}  # nothing marked yet
        second = cli(site, "export", "--partner", "acme", "--upload")
        assert second.returncode == 2, second
        assert "another ftpbridge is exporting acme right now" in second.stderr
    finally:
        server.stats.release.set()
        if first == "daemon job":
            thread.join(timeout=120)
        else:
            stdout, stderr = process.communicate(timeout=120)
    if first == "daemon job":
        run, _hung = holder["run"]
        assert run.ok is True, run.text()
    else:
        assert process.returncode == 0, (stdout, stderr)
    assert server.stats.commands["DELE"] == 0
    assert item_statuses(site) == {"acknowledged": len(expected)}
    assert_export_clean(
        site, figures, f"export --upload during {first} ({mode})", expected_items=expected
    )


def test_two_exports_started_together_upload_one_complete_file(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """Two ``export --upload`` processes started at the same moment on one SQLite store,
    several rounds: each round ends with exactly one complete file carrying every open
    item; the other process was refused (exit 2) or found the day done (exit 0); never a
    traceback, never a final name deleted."""
    for number in range(RACE_ROUNDS):
        folder = tmp_path / f"round-{number}"
        folder.mkdir()
        site, server = export_site(folder, request)
        expected = open_item_ids(site.store, "acme")
        processes = [start_export(site), start_export(site)]
        results = [process.communicate(timeout=120) for process in processes]
        codes = sorted(process.returncode for process in processes)
        for stdout, stderr in results:
            assert "Traceback" not in stdout + stderr
        assert codes in ([0, 0], [0, 2]), (codes, results)
        assert server.stats.commands["DELE"] == 0
        assert_export_clean(site, figures, f"two exports at once, round {number}",
                            expected_items=expected)  # fmt: skip
        site.store.close()


def test_a_failed_upload_in_new_only_mode_loses_no_item(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """``export_mode = "new_only"``, and the server cuts every attempt of the upload: the
    export fails and gives the day back, and its items stay pending (they were never on
    the server). The next export uploads them all, complete, and only then marks them
    (before: they were marked at export, and the retry sent an empty file)."""
    site, _server = export_site(tmp_path, request, cut_data_after_bytes=500, cuts=4)
    site.rebuild(acme={"export_mode": "new_only"})
    expected = open_item_ids(site.store, "acme")
    failed, _hung = bounded_job(site, kind="export")
    assert failed.ok is False, failed.text()
    assert list(site.outbox().iterdir()) == []
    assert item_statuses(site) == {"pending": len(expected)}
    again, _hung = bounded_job(site, kind="export")
    assert again.ok is True, again.text()
    assert item_statuses(site) == {"acknowledged": len(expected)}
    assert_export_clean(site, figures, "failed upload, new_only (ftp)", expected_items=expected)
