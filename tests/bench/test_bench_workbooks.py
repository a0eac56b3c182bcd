"""bench/workbooks.py keeps working: ``python -m bench.workbooks`` on a tiny store, as a
real process. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent.parent
ROWS = [
    "export, CSV",
    "export, .xlsx",
    "write only, xlsxwriter",
    "write only, openpyxl",
    "read only, calamine",
    "read only, openpyxl",
    "import, CSV",
    "import, .xlsx",
]


def test_every_workbook_row_is_measured() -> None:
    """--lines 300: one table row per step, the .xlsx import with its reader child's peak
    RSS (the bench itself asserts that every line was applied from both files)."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.workbooks", "--lines", "300"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = [line for line in completed.stdout.splitlines() if line.startswith("| ")][1:]
    assert [line.split(" | ")[0].removeprefix("| ") for line in lines] == ROWS
    assert lines[-1].endswith(" MB |") and not lines[-2].endswith(" MB |")
