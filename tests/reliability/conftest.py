"""The reliability suite: every case in every run, and the figures it records.

The normal test command (CI) runs every case of this folder. ``FTPBRIDGE_RELIABILITY=full``
(``scripts/reliability`` sets it) changes one thing only: the hypothesis fuzz tests try
1000 examples each instead of a few dozen.

Every case records what it injected and what it measured through the ``figures`` fixture;
with ``FTPBRIDGE_RELIABILITY_RECORD=PATH`` the rows are appended to PATH as JSON lines,
together with whether the test passed, and ``scripts/reliability`` sums them into a table
(``summary.py``).
Both variables are read when this file is imported: the autouse fixture of
tests/conftest.py removes every ``FTPBRIDGE_*`` variable from each test's environment.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

_CHECKOUT = str(Path(__file__).resolve().parents[2])
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from tests.reliability.support import Tally  # noqa: E402
from tests.servers import SSHServer, start_sshd  # noqa: E402

FULL = os.environ.get("FTPBRIDGE_RELIABILITY", "").strip().lower() == "full"
RECORD = os.environ.get("FTPBRIDGE_RELIABILITY_RECORD") or None

_REPORT_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "hostile: a case of issue 12 (hostile servers, shares, configs, inputs): listed one"
        " by one by scripts/reliability",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    item.stash.setdefault(_REPORT_KEY, {})[report.when] = report


@dataclass
class Figures:
    """What one test injected and measured. Rows: ``fault`` (one injected fault and what
    was measured afterwards: a ``Tally``) and ``bad_input`` (inputs tried, and how many
    were not handled: an exception, or a hostile input let through)."""

    test: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    hostile: bool = False

    def fault(self, case: str, measured: Tally) -> None:
        self.rows.append({"kind": "fault", "case": case, **asdict(measured)})

    def bad_input(self, case: str, *, unhandled: int, tried: int = 1) -> None:
        self.rows.append(
            {"kind": "bad_input", "case": case, "tried": tried, "unhandled": unhandled}
        )


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    """Record this test's figures; written (with pass/fail) when the test ends."""
    recorder = Figures(
        request.node.nodeid, hostile=request.node.get_closest_marker("hostile") is not None
    )
    yield recorder
    if RECORD is None:
        return
    reports = request.node.stash.get(_REPORT_KEY, {})
    passed = all(report.passed for report in reports.values())
    rows = recorder.rows or [{"kind": "none", "case": request.node.name}]
    with open(RECORD, "a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(
                json.dumps(
                    {"test": recorder.test, "passed": passed, "hostile": recorder.hostile, **row}
                )
                + "\n"
            )


@pytest.fixture(scope="session")
def sshd() -> Iterator[SSHServer]:
    """OpenSSH's sshd with a chrooted SFTP-only test user, for the whole run."""
    server = start_sshd()
    yield server
    server.stop()
