"""Benchmark ``ftpbridge skus load`` on a large catalogue: its time and peak RSS.

    python -m bench.skus_load --megabytes 100 [--format csv|jsonl]

Writes a catalogue of about that size (SKUs with every catalogue field and stock, in the
shape of examples/skus.csv, or as JSON Lines), then runs the installed ``ftpbridge skus
load`` on it as a child process, on a new SQLite store, and reports the wall time and the
child's peak RSS (``ru_maxrss``). The file's size is the variable: a loader that streams
keeps its peak flat as the file grows (docs/benchmarks.md has the figures).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

from bench.orders_load import measure_command

FIELDS = (
    "id", "factory_sku", "product_name", "product_id", "attributes", "upc", "weight",
    "weight_unit", "available", "in_stock_quantity", "reserve_quantity",
    "max_backorder_quantity", "campaign_id",
)  # fmt: skip


def sku(number: int) -> dict[str, object]:
    return {
        "id": f"SKU-{number:09d}",
        "factory_sku": f"WH-{number:09d}",
        "product_name": f"Tour T-Shirt, black, size M, print run {number}",
        "product_id": str(100_000 + number % 5_000),
        "attributes": "Size: M; Color: Black",
        "upc": f"0{number:011d}",
        "weight": "0.45",
        "weight_unit": "lb",
        "available": "true",
        "in_stock_quantity": number % 500,
        "reserve_quantity": number % 7,
        "max_backorder_quantity": 10,
        "campaign_id": str(number % 40),
    }


def write_catalogue(path: Path, megabytes: float, form: str) -> int:
    """Write SKUs until the file holds ``megabytes`` MB; return how many."""
    target = int(megabytes * 1_000_000)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS, lineterminator="\n")
        if form == "csv":
            writer.writeheader()
        while handle.tell() < target:
            for _ in range(1_000):
                count += 1
                if form == "csv":
                    writer.writerow(sku(count))
                else:
                    handle.write(json.dumps(sku(count)) + "\n")
    return count


def measure(catalogue: Path, folder: Path) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB, exit code, output) of one ``skus load`` of ``catalogue``."""
    return measure_command(["skus", "load", str(catalogue)], folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=100.0, help="file size (100)")
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv", dest="form")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ftpbridge-bench-skus-") as scratch:
        folder = Path(scratch)
        catalogue = folder / f"skus.{arguments.form}"
        count = write_catalogue(catalogue, arguments.megabytes, arguments.form)
        size = catalogue.stat().st_size / 1e6
        seconds, peak, code, output = measure(catalogue, folder)
        print(output.strip()[-2000:])
        print(
            f"skus load ({arguments.form}): {size:.1f} MB, {count:,} SKUs: {seconds:.1f} s,"
            f" peak RSS {peak:.0f} MB, exit {code}"
        )


if __name__ == "__main__":
    main()
