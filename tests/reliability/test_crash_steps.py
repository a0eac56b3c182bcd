"""SIGKILL at every step of a poll cycle and of an export cycle, on FTP and on SFTP.

The process is ``ftpbridge poll --once`` / ``ftpbridge export --upload`` armed with the
test hook ``FTPBRIDGE_CRASH_AT=<step>`` (ftpbridge/faults.py): it kills itself with SIGKILL
at that step, as a power cut would. The same command then runs again, unarmed, and the
store and both sides are checked: the file applied exactly once and archived with its
report, the export in the outbox once and complete, nothing partial anywhere.

tests/daemon/test_daemon.py does the same inside ``ftpbridge run`` on FTP (download to
report_upload, and the export steps); this adds the ``list`` step, SFTP, and the one-shot
commands ops run by hand. Every step on both transports, in the quick run (CI) as in
the full one.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.reliability.conftest import Figures
from tests.reliability.support import (
    ITEMS,
    UPDATED,
    acme_on,
    archived,
    assert_clean,
    assert_export_clean,
    cli,
    make_site,
    open_item_ids,
    outbox_complete,
)

POLL_STEPS = ["list", "download", "parse", "apply", "commit", "report_upload", "archive"]
EXPORT_STEPS = ["export_write", "upload", "rename"]
KINDS = ["ftp", "sftp"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("step", POLL_STEPS)
def test_sigkill_during_poll_then_again(
    kind: str, step: str, tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """Killed at ``step`` of a poll, then polled again: applied once, archived once with
    its report, the inbox empty but for the archive, nothing partial anywhere."""
    table, disk, owner, _server = acme_on(kind, tmp_path, request)
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    site.drop(UPDATED)
    crashed = cli(site, "poll", "--partner", "acme", "--once", crash_at=step)
    assert crashed.returncode == -signal.SIGKILL, (crashed.stdout, crashed.stderr)
    again = cli(site, "poll", "--partner", "acme", "--once")
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert archived(site)
    assert sorted(path.name for path in site.inbox().iterdir()) == ["archive"]
    assert sorted(path.name for path in (site.inbox() / "archive").iterdir()) == [
        UPDATED,
        UPDATED + ".report.csv",
    ]
    assert_clean(
        site, figures, f"SIGKILL at {step} of a poll ({kind})", files=1, shipped=ITEMS["acme"] + 4
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("step", EXPORT_STEPS)
def test_sigkill_during_export_then_again(
    kind: str, step: str, tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """Killed at ``step`` of an export upload, then run again: exactly one file in the
    outbox, complete, with every open item, and no temporary upload left."""
    table, disk, owner, _server = acme_on(kind, tmp_path, request)
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    expected = open_item_ids(site.store, "acme")
    crashed = cli(site, "export", "--partner", "acme", "--upload", crash_at=step)
    assert crashed.returncode == -signal.SIGKILL, (crashed.stdout, crashed.stderr)
    again = cli(site, "export", "--partner", "acme", "--upload")
    assert again.returncode == 0, (again.stdout, again.stderr)
    names = [path.name for path in site.outbox().iterdir()]
    assert len(names) == 1, names
    assert outbox_complete(site) == []
    rows = (site.outbox() / names[0]).read_text(encoding="utf-8").strip().splitlines()
    assert len(rows) == 1 + ITEMS["acme"] + 4
    assert_export_clean(
        site, figures, f"SIGKILL at {step} of an export ({kind})", expected_items=expected
    )
