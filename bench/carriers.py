"""Benchmark ``check_tracking`` on a realistic mix: ``python -m bench.carriers --numbers N``.

The mix is what a warehouse sends back: mostly UPS, USPS and FedEx, some DHL, Royal Mail,
Canada Post, Amazon and OTHER, 1 % mistyped (one digit changed) and 1 % of no known format.
Valid numbers are made with the carriers' check digits written here in plain Python (not
ftpbridge's code), from a seeded generator, so every run and every version of ftpbridge
measures the same numbers. The numbers are drawn from a pool of 50,000 distinct ones.

``check_tracking`` gets canonical carrier names and normalised numbers (what validation
passes it); the time is the best of ``--repeat`` runs (3) in this process, after one
warm-up run (formats are compiled on first use).
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

POOL = 50_000
# carrier, share of the mix, generator
_MIX: list[tuple[str, float, str]] = [
    ("UPS", 0.30, "ups"),
    ("USPS", 0.22, "usps_22"),
    ("USPS", 0.04, "usps_420"),
    ("FEDEX", 0.10, "fedex_12"),
    ("FEDEX", 0.06, "fedex_15"),
    ("FEDEX", 0.04, "fedex_34"),
    ("FEDEX", 0.02, "fedex_smartpost"),
    ("DHL", 0.10, "dhl_10"),
    ("ROYAL_MAIL", 0.03, "s10_gb"),
    ("CANADA_POST", 0.03, "canada_16"),
    ("AMAZON", 0.02, "amazon"),
    ("OTHER", 0.02, "other"),
]


def _gs1(digits: str) -> str:
    """GS1 mod 10: weights 3 and 1 from the rightmost digit."""
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def _ups(body: str) -> str:
    total = 0
    for i, c in enumerate(body):
        value = int(c) if c.isdigit() else (ord(c) - 3) % 10
        total += value * (2 if i % 2 else 1)
    return str((10 - total % 10) % 10)


def _weighted(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(c) * w for c, w in zip(digits, weights, strict=True)) % 11 % 10)


def _s10(digits: str) -> str:
    remainder = sum(int(c) * w for c, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11
    return str({0: 5, 1: 0}.get(remainder, 11 - remainder))


def _make(kind: str, rng: random.Random) -> str:
    def digits(count: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(count))

    if kind == "ups":
        body = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))
        body += rng.choice(["01", "02", "03", "12", "13", "42", "YW"]) + digits(7)
        return "1Z" + body + _ups(body)
    if kind in ("usps_22", "usps_420"):
        stem = rng.choice(["9400111206206", "9205590164917", "9361289878700"]) + digits(8)
        number = stem + _gs1(stem)
        return ("420" + digits(5) + number) if kind == "usps_420" else number
    if kind == "fedex_12":
        stem = digits(11)
        return stem + _weighted(stem, (3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1))
    if kind == "fedex_15":
        stem = digits(14)
        return stem + _gs1(stem)
    if kind == "fedex_34":
        stem = "1001921334250001000300" + digits(11)
        return stem + _weighted(stem[20:33], (1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1))
    if kind == "fedex_smartpost":
        stem = "926129" + digits(15)
        return stem + _gs1(stem)
    if kind == "dhl_10":
        stem = digits(9)
        return stem + str(int(stem) % 7)
    if kind == "s10_gb":
        stem = digits(8)
        return rng.choice(["RB", "AB", "LX"]) + stem + _s10(stem) + "GB"
    if kind == "canada_16":
        stem = "0073938" + digits(8)
        return stem + _gs1(stem)
    if kind == "amazon":
        return "TBA" + digits(12)
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(12))


def mix(count: int, seed: int = 20261201) -> tuple[pd.Series, pd.Series]:
    """(carriers, numbers): ``count`` rows drawn from a pool of realistic numbers."""
    rng = random.Random(seed)
    carriers: list[str] = []
    numbers: list[str] = []
    for carrier, share, kind in _MIX:
        for _ in range(round(POOL * share)):
            number = _make(kind, rng)
            roll = rng.random()
            if roll < 0.01:  # mistyped: one digit moved on by one
                position = rng.choice([i for i, c in enumerate(number) if c.isdigit()])
                number = (
                    number[:position]
                    + str((int(number[position]) + 1) % 10)
                    + number[position + 1 :]
                )
            elif roll < 0.02:  # of no known format
                number = "X" + number[1:]
            carriers.append(carrier)
            numbers.append(number)
    picks = np.random.default_rng(seed).integers(0, len(numbers), count)
    return (
        pd.Series(np.array(carriers, dtype=object)[picks], dtype="str"),
        pd.Series(np.array(numbers, dtype=object)[picks], dtype="str"),
    )


def measure(
    check: Callable[[pd.Series, pd.Series], tuple[pd.Series, pd.Series]],
    count: int,
    repeat: int = 3,
) -> dict[str, Any]:
    """Best-of-``repeat`` seconds of ``check`` on ``count`` numbers, and what it said."""
    carriers, numbers = mix(count)
    check(carriers.iloc[:1000], numbers.iloc[:1000])  # warm-up: formats compiled on first use
    runs: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        error, warning = check(carriers, numbers)
        runs.append(time.perf_counter() - start)
    return {
        "seconds": min(runs),
        "runs_s": [round(run, 3) for run in runs],
        "numbers": count,
        "errors": int((error != "").sum()),
        "warnings": int((warning != "").sum()),
    }


def run_check(count: int, repeat: int = 3) -> dict[str, Any]:
    """``measure`` with ftpbridge's ``check_tracking`` (a ``bench.isolated`` step)."""
    from ftpbridge.carriers import check_tracking

    return measure(check_tracking, count, repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.carriers", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--numbers", type=int, default=1_000_000, help="numbers to check (1,000,000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best counts (3)")
    arguments = parser.parse_args(argv)
    result = run_check(arguments.numbers, arguments.repeat)
    print(
        f"check_tracking: {result['numbers']:,} numbers in {result['seconds']:.3f} s"
        f" (best of {arguments.repeat}: {result['runs_s']}); {result['errors']:,} errors,"
        f" {result['warnings']:,} warnings"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
