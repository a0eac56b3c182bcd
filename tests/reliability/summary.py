"""The reliability figures: what each test of tests/reliability recorded (JSON lines, see
conftest.py) summed into the table ``scripts/reliability`` prints, and whether the run is
clean.

    python -m tests.reliability.summary RECORD SECONDS PYTEST_STATUS

Every row is what a test measured, never a figure written by hand: a ``fault`` row carries
every figure of ``support.Tally`` (None where a figure does not apply to the case), a
``bad_input`` row how many inputs were tried and how many were not handled (an exception,
or a hostile input let through). A row without one of its figures is an error, not a zero.

The cases against hostile servers, shares, configs and inputs of issue 12 (tests marked
``hostile``) are listed one by one under the totals, each with what was lost, hung or not
handled (rows of one case from several parametrisations summed).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The figures of a fault row (tests/reliability/support.py: Tally), all required.
FAULT_FIGURES = (
    "files_expected",
    "files_applied",
    "files_lost",
    "applied_twice",
    "updates_expected",
    "updates_lost",
    "partial_files",
    "hung",
)
BAD_INPUT_FIGURES = ("tried", "unhandled")


class RecordError(ValueError):
    """Raised when a recorded row lacks a figure its kind must carry."""


@dataclass
class Summary:
    """The summed figures of one run; ``clean`` when it may exit 0."""

    figures: list[tuple[str, int]] = field(default_factory=list)
    hostile: list[tuple[str, int, int, int]] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def figure(self, label: str) -> int:
        return dict(self.figures)[label]


def _total(rows: list[dict[str, Any]], key: str) -> int:
    """The sum of ``key`` over ``rows`` (None: not measured for that case)."""
    total = 0
    for row in rows:
        if key not in row:
            raise RecordError(f"{row.get('test')}: the {row['kind']} row has no {key!r}: {row}")
        total += row[key] or 0
    return total


def summarise(rows: list[dict[str, Any]]) -> Summary:
    """Sum the rows; list what makes the run not clean."""
    faults = [row for row in rows if row["kind"] == "fault"]
    inputs = [row for row in rows if row["kind"] == "bad_input"]
    for row in faults:
        for key in FAULT_FIGURES:
            _total([row], key)
    summary = Summary()
    summary.figures = [
        ("faults injected", len(faults)),
        ("faults survived", sum(1 for row in faults if row["passed"])),
        ("files lost", _total(faults, "files_lost")),
        ("files applied twice", _total(faults, "applied_twice")),
        ("updates lost", _total(faults, "updates_lost")),
        ("partial files", _total(faults, "partial_files")),
        ("jobs hung", _total(faults, "hung")),
        ("bad inputs tried", _total(inputs, "tried")),
        ("bad inputs not handled", _total(inputs, "unhandled")),
    ]
    summary.failed_tests = sorted({row["test"] for row in rows if not row["passed"]})
    summary.hostile = hostile_cases(rows)
    if not faults:
        summary.problems.append("no fault was injected")
    for label in (
        "files lost",
        "files applied twice",
        "updates lost",
        "partial files",
        "jobs hung",
        "bad inputs not handled",
    ):
        if summary.figure(label):
            summary.problems.append(f"{label}: {summary.figure(label)}")
    if summary.figure("faults survived") != summary.figure("faults injected"):
        summary.problems.append("not every fault was survived")
    summary.problems += [f"FAILED: {test}" for test in summary.failed_tests]
    return summary


def hostile_cases(rows: list[dict[str, Any]]) -> list[tuple[str, int, int, int]]:
    """(case, lost, hung, not handled) of each case recorded by a test marked ``hostile``,
    in the order first seen; a case whose test failed counts as not handled."""
    cases: dict[str, list[int]] = {}
    for row in rows:
        if not row.get("hostile") or row["kind"] == "none":
            continue
        failed = 0 if row["passed"] else 1
        if row["kind"] == "fault":
            lost = (row["files_lost"] or 0) + (row["updates_lost"] or 0)
            figures = [lost, row["hung"] or 0, failed]
        else:
            figures = [0, 0, (row["unhandled"] or 0) + failed]
        total = cases.setdefault(row["case"], [0, 0, 0])
        for index, value in enumerate(figures):
            total[index] += value
    return [(case, lost, hung, unhandled) for case, (lost, hung, unhandled) in cases.items()]


def render(summary: Summary, seconds: int) -> str:
    width = 40
    lines = ["", "ftpbridge reliability", "-" * width]
    lines += [f"{label:<28}{value:>12,}" for label, value in summary.figures]
    lines += [f"{'failed tests':<28}{len(summary.failed_tests):>12,}", "-" * width]
    if summary.hostile:
        lines.append("hostile servers, shares and configs (issue 12):")
        lines.append(f"  {'case':<58} lost  hung  unhandled")
        for case, lost, hung, unhandled in summary.hostile:
            lines.append(f"  {case[:58]:<58} {lost:>4}  {hung:>4}  {unhandled:>9}")
        lines.append("-" * width)
    lines.append(f"{'run time':<28}{seconds:>10} s")
    lines += [f"FAILED: {test}" for test in summary.failed_tests]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Print the table for RECORD; exit with pytest's status, or 1 when not clean."""
    record, seconds, status = Path(argv[0]), int(argv[1]), int(argv[2])
    text = record.read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    try:
        summary = summarise(rows)
    except RecordError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print(render(summary, seconds))
    for problem in summary.problems:
        if not problem.startswith("FAILED: "):
            print(f"not clean: {problem}")
    return status or (0 if summary.clean else 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
