"""bench/api.py keeps working: ``python -m bench --api-only`` on a tiny store, as a real
process (a real ftpbridge serve inside). No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent.parent
API_STEPS = [
    "api view not_shipped, page of 250 (p50, 16 clients)",
    "api view term search (p50, 16 clients)",
]


def test_api_rows_have_both_sides(tmp_path: Path) -> None:
    """--api-only --lines 3000: the two View Orders rows and the update row, on SQLite and
    on PostgreSQL, each with ftpbridge's and the floor's figures; each update is of exactly
    1,000 items on both stores (whole orders once made it 1,001 on SQLite)."""
    target = tmp_path / "result.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--lines", "3000", "--api-only", "--api-requests",
         "32", "--api-update-rounds", "1", "--json", str(target), "--work", str(tmp_path)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    result = json.loads(target.read_text(encoding="utf-8"))
    steps = {step["step"]: step for step in result["steps"]}
    assert list(steps)[:2] == API_STEPS
    assert list(steps)[3:5] == [name + " (PostgreSQL)" for name in API_STEPS]
    for update in (result["steps"][2], result["steps"][5]):
        assert update["step"].startswith("api update of 1,000 items")
        assert update["lines"] == 1_000
    assert result["steps"][5]["step"].endswith("(PostgreSQL)")
    for step in result["steps"]:
        assert step["ftpbridge_s"] > 0 and step["floor_s"] > 0 and step["ratio"] > 0, step
    for name in [*API_STEPS, *(name + " (PostgreSQL)" for name in API_STEPS)]:
        details = steps[name]["details"]
        assert details["requests"] == 32 and details["requests_per_s"] > 0
        assert details["items_in_store"] == 3000
    assert [path.name for path in tmp_path.iterdir()] == ["result.json"]
