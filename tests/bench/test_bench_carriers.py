"""The carriers benchmark keeps working: ``python -m bench.carriers`` on a small mix, as a
real process. No timing is asserted (speed lives in the benchmark's own output)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bench.carriers import mix

REPOSITORY = Path(__file__).resolve().parent.parent.parent


def test_small_run_prints_the_time_and_what_check_tracking_said() -> None:
    """20,000 numbers, one round: one line with the count, the seconds and the outcomes."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.carriers", "--numbers", "20000", "--repeat", "1"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    line = completed.stdout.strip()
    found = re.fullmatch(
        r"check_tracking: 20,000 numbers in [0-9.]+ s \(best of 1: \[[0-9.]+\]\);"
        r" ([0-9,]+) errors, ([0-9,]+) warnings",
        line,
    )
    assert found, line
    errors, warnings = (int(text.replace(",", "")) for text in found.groups())
    assert 0 < errors < 1000 and 0 < warnings < 1000  # about 1 % mistyped, 1 % unknown


def test_the_mix_is_the_same_every_time() -> None:
    """Seeded: two runs (and two versions of ftpbridge) measure the same numbers."""
    first_carriers, first_numbers = mix(5000)
    second_carriers, second_numbers = mix(5000)
    assert first_numbers.tolist() == second_numbers.tolist()
    assert first_carriers.tolist() == second_carriers.tolist()
    assert set(first_carriers) >= {"UPS", "USPS", "FEDEX", "DHL", "OTHER"}
