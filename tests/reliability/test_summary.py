"""The figures scripts/reliability prints are sums of what the tests measured: a fault row
must carry every figure, a non-zero figure or a failed test makes the run not clean."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.summary import FAULT_FIGURES, RecordError, main, render, summarise
from tests.reliability.support import Tally


def fault(passed: bool = True, **changes: Any) -> dict[str, Any]:
    measured = Tally(1, 1, 0, 0, 13, 0)
    return {"test": "t::fault", "passed": passed, "kind": "fault", **asdict(measured), **changes}


def bad_input(tried: int = 5, unhandled: int = 0) -> dict[str, Any]:
    return {"test": "t::input", "passed": True, "kind": "bad_input", "tried": tried,
            "unhandled": unhandled}  # fmt: skip


def test_fault_rows_carry_every_figure_of_a_tally() -> None:
    """The summary reads exactly the figures a Tally measures."""
    assert FAULT_FIGURES == tuple(field.name for field in fields(Tally))


def test_a_clean_run_sums_what_was_measured() -> None:
    """Figures are sums over the rows; None (not measured) adds nothing."""
    summary = summarise(
        [fault(), fault(applied_twice=None, updates_expected=None, updates_lost=None),
         bad_input(7), bad_input(3)]
    )  # fmt: skip
    assert summary.clean, summary.problems
    assert summary.figure("faults injected") == summary.figure("faults survived") == 2
    assert summary.figure("bad inputs tried") == 10
    assert summary.figure("bad inputs not handled") == 0


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (fault(files_lost=1, files_applied=0), "files lost: 1"),
        (fault(applied_twice=2), "files applied twice: 2"),
        (fault(updates_lost=3), "updates lost: 3"),
        (fault(partial_files=1), "partial files: 1"),
        (fault(hung=1), "jobs hung: 1"),
        (bad_input(unhandled=1), "bad inputs not handled: 1"),
        (fault(passed=False), "not every fault was survived"),
    ],
)
def test_a_figure_that_is_not_zero_makes_the_run_fail(
    row: dict[str, Any], problem: str, tmp_path: Path
) -> None:
    """Each must-be-zero figure, and a fault not survived, fails the run (exit 1)."""
    summary = summarise([fault(), row])
    assert problem in summary.problems
    record = tmp_path / "record.jsonl"
    record.write_text("\n".join(json.dumps(r) for r in (fault(), row)) + "\n")
    assert main([str(record), "1", "0"]) == 1


def test_a_run_without_faults_or_with_a_failed_test_is_not_clean() -> None:
    """No fault injected at all is not a clean run; a failed test is named."""
    assert "no fault was injected" in summarise([bad_input()]).problems
    failed = {"test": "t::other", "passed": False, "kind": "none"}
    assert "FAILED: t::other" in summarise([fault(), failed]).problems


def test_a_row_missing_a_figure_is_an_error_not_a_zero(tmp_path: Path) -> None:
    """A fault row without one of its figures stops the summary: nothing defaults to 0."""
    row = fault()
    del row["updates_lost"]
    with pytest.raises(RecordError, match="updates_lost"):
        summarise([row])
    record = tmp_path / "record.jsonl"
    record.write_text(json.dumps(row) + "\n")
    assert main([str(record), "1", "0"]) == 1


def test_hostile_cases_are_listed_one_by_one() -> None:
    """The cases of tests marked hostile are listed under the totals, once each, with what
    each lost, hung or did not handle; other tests' rows are not."""
    rows = [
        {**fault(), "hostile": True, "case": "endless RETR (ftp)"},
        {**bad_input(tried=2, unhandled=0), "hostile": True, "case": "endless MLSD answer"},
        {**bad_input(tried=1, unhandled=0), "hostile": True, "case": "endless MLSD answer"},
        {**fault(), "case": "a fault elsewhere"},
    ]
    summary = summarise(rows)
    assert summary.hostile == [("endless RETR (ftp)", 0, 0, 0), ("endless MLSD answer", 0, 0, 0)]
    text = render(summary, 1)
    assert "endless RETR (ftp)" in text and "a fault elsewhere" not in text
    assert "jobs hung" in text
