"""Benchmark ``ftpbridge orders load`` on a large JSON Lines file: its time and peak RSS.

    python -m bench.orders_load --megabytes 111

Writes a file of about that size (orders in the Topspin shape of examples/orders.jsonl,
one or two items each), then runs the installed ``ftpbridge orders load`` on it as a
child process, on a new SQLite store, and reports the wall time and the child's peak RSS
(``ru_maxrss``). The file's size is the variable: a loader that streams keeps its peak
flat as the file grows (issue 11 item 20; docs/benchmarks.md has the figures).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FTPBRIDGE = Path(sys.executable).parent / "ftpbridge"


def write_orders(path: Path, megabytes: float) -> int:
    """Write orders until the file holds ``megabytes`` MB; return how many."""
    target = int(megabytes * 1_000_000)
    written = count = 0
    with path.open("w", encoding="utf-8") as handle:
        while written < target:
            count += 1
            items = [
                {
                    "id": f"{count}-{position}",
                    "sku_id": 25 + position,
                    "product_name": "Tour T-Shirt" if position else "Vinyl LP",
                    "product_type": "merchandise",
                    "sku_attributes": {"Size": "M", "Color": "Black"},
                    "factory_sku": f"55{count % 1000:03d}",
                    "sku_upc": "22-2222-222",
                    "quantity": 1 + position,
                    "status": "pending",
                }
                for position in range(1 + count % 2)
            ]
            line = json.dumps(
                {
                    "id": count,
                    "created_at": "2026-11-20T14:03:00Z",
                    "fan": f"fan{count}@example.com",
                    "shipping_address": {
                        "firstname": "Ada",
                        "lastname": f"Lovelace {count}",
                        "address1": f"{count} Main Street",
                        "address2": "",
                        "city": "London",
                        "state": "",
                        "postal_code": "SW1A 1AA",
                        "country": "GB",
                        "phone": "+44 20 7946 0958",
                    },
                    "items": items,
                }
            )
            handle.write(line + "\n")
            written += len(line) + 1
    return count


def measure(orders: Path, folder: Path) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB, exit code, output) of one ``orders load`` of ``orders``."""
    return measure_command(["orders", "load", str(orders)], folder)


def measure_command(arguments: list[str], folder: Path) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB, exit code, output) of ``ftpbridge ARGUMENTS`` as a child
    process on a new SQLite store in ``folder`` (one partner, acme, the default); the peak
    is the largest child's ``ru_maxrss`` so far: one measurement per process."""
    config = folder / "config.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{folder / "bench.db"}"\n[partners.acme]\ndefault = true\n',
        encoding="utf-8",
    )
    started = time.perf_counter()
    finished = subprocess.run(
        [str(FTPBRIDGE), "--config", str(config), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak, finished.returncode, finished.stdout + finished.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=111.0, help="file size (111)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ftpbridge-bench-load-") as scratch:
        folder = Path(scratch)
        orders = folder / "orders.jsonl"
        count = write_orders(orders, arguments.megabytes)
        size = orders.stat().st_size / 1e6
        seconds, peak, code, output = measure(orders, folder)
        print(output.strip())
        print(
            f"orders load: {size:.1f} MB, {count:,} orders: {seconds:.1f} s,"
            f" peak RSS {peak:.0f} MB, exit {code}"
        )


if __name__ == "__main__":
    main()
