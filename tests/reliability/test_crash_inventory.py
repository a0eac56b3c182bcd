"""SIGKILL at every step of an inventory poll, on FTP and on SFTP: exactly once.

``ftpbridge poll --kind inventory`` armed with ``FTPBRIDGE_CRASH_AT=<step>`` kills itself
at that step (ftpbridge/faults.py), as a power cut would; the same command then runs
again, unarmed. The inventory file must be applied exactly once (one ledger row, one audit
row per stock change, the stock as the file says, the unlisted SKU zeroed once), and be
archived once with its report, nothing partial left anywhere.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ftpbridge.store.engine import utcnow
from ftpbridge.store.schema import files, skus, stock_changes
from ftpbridge.store.sku_catalogue import upsert_catalogue
from tests.reliability.conftest import Figures
from tests.reliability.support import (
    Site,
    Tally,
    acme_on,
    cli,
    make_site,
    no_partial_files,
    record_and_check,
)

STEPS = ["list", "download", "parse", "apply", "commit", "report_upload", "archive"]
KINDS = ["ftp", "sftp"]
NAME = "acme_inventory_20261201.csv"
# 25 and 26 change, 27 is listed as 0, 28 is not listed (a snapshot sets it to 0): 2 of 4
# SKUs in stock go to 0, which inventory_max_zeroed (50%) still allows.
SNAPSHOT = "sku,quantity\r\n007,24\r\n55665,3\r\n55666,0\r\n"
EXPECTED = {"25": 24, "26": 3, "27": 0, "28": 0}
CHANGES = 4  # stock_changes rows: three listed, one zeroed


def stock_tally(site: Site) -> Tally:
    """Exactly once, measured: one applied inventory file, CHANGES audit rows, the stock
    as EXPECTED (a SKU off is an update lost)."""
    with site.store.connect() as connection:
        applied = connection.execute(
            select(func.count()).where(files.c.direction == "inventory", files.c.state == "applied")
        ).scalar_one()
        changes = connection.execute(  # the file's changes (the setup's have no file)
            select(func.count()).where(stock_changes.c.file_id.is_not(None))
        ).scalar_one()
        stock = dict(connection.execute(select(skus.c.id, skus.c.in_stock_quantity)).all())
    return Tally(
        files_expected=1,
        files_applied=int(applied),
        files_lost=max(0, 1 - int(applied)),
        applied_twice=max(0, int(applied) - 1) + max(0, int(changes) - CHANGES),
        updates_expected=len(EXPECTED),
        updates_lost=sum(1 for sku, value in EXPECTED.items() if stock.get(sku) != value),
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("step", STEPS)
def test_sigkill_during_an_inventory_poll_then_again(
    kind: str, step: str, tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """Killed at ``step`` of an inventory poll, then polled again: applied once, archived
    once with its report, the inbox empty but for the archive, nothing partial."""
    table, disk, owner, _server = acme_on(kind, tmp_path, request)
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    with site.store.begin() as connection:
        upsert_catalogue(
            connection,
            [{"id": sku, "in_stock_quantity": 10} for sku in EXPECTED],
            source="test setup",
            now=utcnow(),
        )
    target = site.inbox() / NAME
    temporary = target.with_name("." + NAME + ".writing")
    temporary.write_text(SNAPSHOT, encoding="utf-8")
    site.give(temporary)
    temporary.rename(target)
    crashed = cli(site, "poll", "--partner", "acme", "--kind", "inventory", crash_at=step)
    assert crashed.returncode == -signal.SIGKILL, (crashed.stdout, crashed.stderr)
    again = cli(site, "poll", "--partner", "acme", "--kind", "inventory")
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert sorted(path.name for path in site.inbox().iterdir()) == ["archive"]
    assert sorted(path.name for path in (site.inbox() / "archive").iterdir()) == [
        NAME,
        NAME + ".report.csv",
    ]
    measured = stock_tally(site)
    leftovers = no_partial_files(*site.disks.values(), site.settings.state_dir)
    measured.partial_files = len(leftovers)
    record_and_check(
        figures, f"SIGKILL at {step} of an inventory poll ({kind})", measured, leftovers
    )
