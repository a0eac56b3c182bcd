"""The benchmark keeps working: ``python -m bench`` on a tiny store, as a real process.

No timing is asserted here (a loaded CI machine would make such a test flaky); the
benchmark's own table says whether the targets are met.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent.parent
INVENTORY_STEPS = [
    "inventory snapshot 500",
    "inventory snapshot 1,000",
    "inventory snapshot 2,000",
]
CORE_STEPS = ["export", "import", "re-import", "poll (5,000 files)", *INVENTORY_STEPS]
TRANSFER_STEPS = [
    "ftp upload",
    "ftp download",
    "ftps upload",
    "ftps download",
    "sftp upload",
    "sftp download",
]


def run_bench(tmp_path: Path, *arguments: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    target = tmp_path / "result.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--lines", "2000", "--json", str(target),
         "--work", str(tmp_path), "--skip-postgres", "--skip-api", "--skip-console", *arguments],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed, json.loads(target.read_text(encoding="utf-8"))


def table_steps(output: str) -> list[str]:
    """The step names of the printed table (the lines between the rule and the footer)."""
    lines = output.splitlines()
    rule = next(number for number, line in enumerate(lines) if line.startswith("-----"))
    header = lines[rule - 1]
    assert header.split()[:3] == ["step", "ftpbridge", "s"], header
    steps = []
    for line in lines[rule + 1 :]:
        if line.startswith("results written to"):
            break
        steps.append(line[: len(lines[rule].split("  ")[0])].strip())
    return steps


def test_tiny_run_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    """--lines 2000 --skip-transfers: every core step is in the table and in the JSON, with
    seconds, floors, ratios and peak RSS; the store and files are cleaned up."""
    completed, result = run_bench(tmp_path, "--skip-transfers", "--skip-notify")
    assert table_steps(completed.stdout) == CORE_STEPS
    assert [step["step"] for step in result["steps"]] == CORE_STEPS
    assert result["lines"] == 2000
    assert result["machine"]["cpus"] >= 1 and result["machine"]["sqlite"]
    for step in result["steps"]:
        assert step["ftpbridge_s"] > 0, step
        assert step["peak_rss_mb"] > 0, step
        assert isinstance(step["met"], bool) and isinstance(step["misses"], list)
    by_name = {step["step"]: step for step in result["steps"]}
    for name in ("export", "import"):
        assert by_name[name]["floor_s"] > 0 and by_name[name]["ratio"] > 0
        assert by_name[name]["floor_rss_mb"] > 0
    assert by_name["import"]["details"]["applied"] == 2000
    assert by_name["re-import"]["details"]["status"] == "already_processed"
    assert by_name["poll (5,000 files)"]["details"]["downloads"] == 0
    for name in INVENTORY_STEPS:  # the inventory snapshot, every SKU changed
        lines = int(name.rsplit(" ", 1)[1].replace(",", ""))
        assert by_name[name]["lines"] == lines and by_name[name]["floor_s"] > 0
        # A miss may only be a timing (a wrong result says "applied N of M").
        assert not any("applied" in miss for miss in by_name[name]["misses"])
    assert [path.name for path in tmp_path.iterdir()] == ["result.json"]


def test_inventory_only_runs_just_the_inventory_rows(tmp_path: Path) -> None:
    """--inventory-only builds no order store and measures the snapshot at a quarter,
    half and all of --inventory-lines."""
    completed, result = run_bench(tmp_path, "--inventory-only", "--inventory-lines", "800")
    names = ["inventory snapshot 200", "inventory snapshot 400", "inventory snapshot 800"]
    assert table_steps(completed.stdout) == names
    assert [step["step"] for step in result["steps"]] == names
    assert completed.stdout.startswith("ftpbridge benchmark: inventory, 800 lines")


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the SFTP transfer needs root to start sshd")
def test_tiny_run_with_a_small_transfer(tmp_path: Path) -> None:
    """--transfer-mb 1: FTP, FTPS and SFTP uploads and downloads join the table and JSON."""
    completed, result = run_bench(tmp_path, "--transfer-mb", "1", "--skip-notify")
    steps = CORE_STEPS[:3] + TRANSFER_STEPS + CORE_STEPS[3:]  # the inventory rows last
    assert table_steps(completed.stdout) == steps
    assert [step["step"] for step in result["steps"]] == steps
    for step in result["steps"][3 : 3 + len(TRANSFER_STEPS)]:
        # OpenSSH's time is its run minus its login, which for 1 MB is mostly noise: the
        # floor is only checked to be there.
        assert step["ftpbridge_s"] > 0 and isinstance(step["floor_s"], float), step
        assert step["details"]["mb"] == 1


def test_console_row(tmp_path: Path) -> None:
    """--console-only: the store is built and the console's Partners page row alone is
    measured, next to its queries run alone (the page really rendered its 50 partners)."""
    target = tmp_path / "result.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--lines",
            "2000",
            "--json",
            str(target),
            "--work",
            str(tmp_path),
            "--console-only",
            "--console-rounds",
            "2",
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads(target.read_text())
    [step] = result["steps"]
    assert step["step"] == "console Partners page, 50 partners (median)"
    assert step["ftpbridge_s"] > 0 and step["floor_s"] > 0 and step["ratio"] > 0
    assert step["details"]["items_in_store"] == 2000
    assert len(step["details"]["runs_s"]) == 2


def test_tiny_run_of_the_outbox_rows(tmp_path: Path) -> None:
    """--notify-only: the import writing an event per line beside the import without, and
    500 events delivered to the local receiver beside the receiver alone, all of them."""
    completed, result = run_bench(
        tmp_path, "--notify-only", "--notify-events", "500", "--repeat", "1"
    )
    steps = ["import with webhook events", "notify send (500 events)"]
    assert table_steps(completed.stdout) == steps
    imported, sent = result["steps"]
    assert imported["details"]["events"] == 2000
    assert imported["floor_s"] > 0 and imported["ratio"] > 0
    assert sent["lines"] == 500
    assert sent["details"]["posts"] == 5
    assert sent["details"]["events_per_s"] > 0 and sent["details"]["floor_events_per_s"] > 0
    # A wrong result (not every event delivered) is a problem; a missed speed target is not.
    assert not [miss for miss in imported["misses"] + sent["misses"] if "delivered" in miss
                or "events written" in miss]  # fmt: skip
    assert [path.name for path in tmp_path.iterdir()] == ["result.json"]
