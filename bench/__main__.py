"""Run the benchmark: ``python -m bench --lines 1000000`` (see ``--help``).

Steps, each in a fresh process so that its peak RSS (VmHWM) is its own:

- build: a store with N pending order lines (not compared; the setup).
- export: ``export_partner`` to a CSV file, next to a plain cursor over the same rows and
  ``DataFrame.to_csv`` per batch.
- import: the export with every row shipped, through ``import_file`` (read, validate,
  apply, commit, report), next to ``read_csv(dtype=str)`` of the same file plus one
  ``executemany`` UPDATE by primary key, each on its own copy of the same database.
- re-import: the same file again (already processed: hashed and found in the ledger).
- ftp/ftps/sftp upload and download of the export (``bench/transfer.py``), next to raw
  ftplib and OpenSSH's ``sftp`` on the same servers (``--skip-transfers`` leaves them out).
- poll: ``poll_once`` over an FTP inbox of 5,000 unrelated files, next to one raw MLSD.
- api: the Orders API (``bench/api.py``): View Orders pages and a term search with 16
  concurrent clients, and a 1,000-item update, next to the same SQL through sqlite3 plus
  ``json.dumps`` (``--skip-api`` leaves them out, ``--api-only`` runs only them); the
  same rows on a PostgreSQL store of as many lines, through psycopg (unless
  ``--skip-postgres``).
- console: the ops console's Partners page with the items over 50 partners
  (``bench/console.py``), next to the page's queries run alone (``--skip-console`` leaves
  it out, ``--console-only`` runs only it).
- notify (``bench/notify.py``): the import writing a webhook event per row next to the
  same import without events, and the outbox's throughput (``--notify-events`` events
  delivered to a local receiver) next to the receiver alone (``--skip-notify`` leaves
  them out, ``--notify-only`` runs only them).
- inventory: a warehouse's snapshot of ``--inventory-lines`` lines (500,000) through
  ``import_inventory``, next to ``read_csv`` plus one ``executemany`` UPDATE by the
  warehouse SKU (``bench/inventory.py``), also at a quarter and half the lines to show
  peak RSS flat in the file's size (``--skip-inventory``, ``--inventory-only``).

The table's ratio is ftpbridge's time over the floor's (lower is better; for transfers
1/ratio is ftpbridge's share of the floor's throughput). A missed target says by how much.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import steps
from bench.isolated import run_isolated

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """An upper bound on one measure of a step: ``ratio`` (ours/floor), ``seconds`` or
    ``rss_mb``."""

    measure: str
    limit: float
    text: str


EXPORT = (Target("ratio", 1.5, "≤ 1.5× floor"),)
IMPORT = (
    Target("ratio", 2.0, "≤ 2× floor"),
    Target("seconds", 30.0, "< 30 s"),
    Target("rss_mb", 400.0, "≤ 400 MB RSS"),
)
REIMPORT = (Target("seconds", 1.0, "< 1 s"),)
FTP = (Target("ratio", 1 / 0.9, "≥ 90% of ftplib"),)
SFTP = (Target("ratio", 1 / 0.7, "≥ 70% of OpenSSH"),)
POLL = (Target("seconds", 2.0, "< 2 s, no download"),)
API_VIEW = (Target("ratio", 3.0, "p50 ≤ 3× floor"),)
API_UPDATE = (Target("ratio", 2.0, "≤ 2× floor"),)
CONSOLE = (Target("ratio", 2.0, "≤ 2× its queries alone"),)
NOTIFY_IMPORT = (Target("ratio", 1.5, "≤ 1.5× the import without events"),)
NOTIFY_SEND_RATE = 1_000.0  # events per second, at least
INVENTORY = (Target("ratio", 2.0, "≤ 2× floor"),)


@dataclass
class Row:
    step: str
    ftpbridge_s: float
    floor_s: float | None = None
    lines: int | None = None
    peak_rss_mb: float | None = None
    floor_rss_mb: float | None = None
    targets: tuple[Target, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.floor_s is None or self.floor_s <= 0:
            return None
        return self.ftpbridge_s / self.floor_s

    @property
    def lines_per_s(self) -> float | None:
        if not self.lines or self.ftpbridge_s <= 0:
            return None
        return self.lines / self.ftpbridge_s

    def misses(self) -> list[str]:
        """Each missed target, with by how much; plus any problem found on the way."""
        found = list(self.problems)
        values = {"ratio": self.ratio, "seconds": self.ftpbridge_s, "rss_mb": self.peak_rss_mb}
        units = {"ratio": "×", "seconds": " s", "rss_mb": " MB"}
        for target in self.targets:
            value = values[target.measure]
            if value is None or value <= target.limit:
                continue
            over = (value / target.limit - 1) * 100
            unit = units[target.measure]
            found.append(f"{value:.2f}{unit} > {target.limit:.2f}{unit} (+{over:.0f}%)")
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            # To 10 µs: the floor of a term search can take less than a millisecond.
            "ftpbridge_s": round(self.ftpbridge_s, 5),
            "floor_s": None if self.floor_s is None else round(self.floor_s, 5),
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "lines": self.lines,
            "lines_per_s": None if self.lines_per_s is None else round(self.lines_per_s),
            "peak_rss_mb": self.peak_rss_mb,
            "floor_rss_mb": self.floor_rss_mb,
            "targets": [asdict(target) for target in self.targets],
            "met": not self.misses(),
            "misses": self.misses(),
            "details": self.details,
        }


# --------------------------------------------------------------------------- files


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda run: run["seconds"])


def _rounds_row(
    step: str,
    ours_runs: list[dict[str, Any]],
    floor_runs: list[dict[str, Any]],
    lines: int,
    targets: tuple[Target, ...],
    details: dict[str, Any],
) -> Row:
    """A step measured in rounds: the best round of each side counts, the highest peak RSS
    is shown, and every round's time is kept in the details."""
    return Row(
        step,
        _best(ours_runs)["seconds"],
        _best(floor_runs)["seconds"],
        lines,
        max(run["peak_rss_mb"] for run in ours_runs),
        max(run["peak_rss_mb"] for run in floor_runs),
        targets,
        {
            **details,
            "runs_s": [round(run["seconds"], 2) for run in ours_runs],
            "floor_runs_s": [round(run["seconds"], 2) for run in floor_runs],
        },
    )


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite store (its WAL folded in first)."""
    connection = sqlite3.connect(source)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    os.sync()  # the copy's dirty pages written now, not during the step measured next


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    import numpy
    import pandas

    try:
        import pyarrow

        arrow = pyarrow.__version__
    except ImportError:
        arrow = None
    cpu = ""
    memory = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) // 1024
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "memory_mb": memory,
        "python": platform.python_version(),
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "pyarrow": arrow,
        "sqlite": sqlite3.sqlite_version,
        "commit": commit,
    }


# --------------------------------------------------------------------------- table


def _number(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def table(rows: list[Row]) -> str:
    """The results as one plain-text table."""
    header = (
        "step",
        "ftpbridge s",
        "floor s",
        "ratio",
        "lines/s",
        "peak RSS MB",
        "floor RSS MB",
        "target",
        "result",
    )
    body = []
    for row in rows:
        misses = row.misses()
        verdict = "-" if not row.targets and not misses else ("ok" if not misses else "MISSED ")
        if misses:
            verdict += "; ".join(misses)
        body.append(
            (
                row.step,
                _number(row.ftpbridge_s),
                _number(row.floor_s),
                "-" if row.ratio is None else f"{row.ratio:.2f}×",
                _number(row.lines_per_s, 0),
                _number(row.peak_rss_mb, 0),
                _number(row.floor_rss_mb, 0),
                ", ".join(target.text for target in row.targets) or "-",
                verdict,
            )
        )
    widths = [max(len(line[column]) for line in (header, *body)) for column in range(len(header))]
    lines = []
    for number, line in enumerate((header, *body)):
        cells = [
            cell.ljust(width) if column in (0, 7, 8) else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------- the run


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(arguments: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    lines = arguments.lines
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    work = Path(tempfile.mkdtemp(prefix="ftpbridge-bench-", dir=arguments.work))
    rows: list[Row] = []
    info: dict[str, Any] = {"work": str(work)}
    try:
        if arguments.inventory_only:
            info["orders"], info["build_s"] = 0, 0.0
            rows.extend(_inventory_rows(arguments, work))
            return rows, info
        base = work / "base.db"
        _say(f"building a store with {lines:,} lines in {work} ...")
        built = run_isolated(steps.build, database=base, lines=lines, now=now)
        info["orders"] = built["orders"]
        info["build_s"] = round(built["seconds"], 2)
        if arguments.api_only:
            rows.extend(_api_rows(arguments, work, base, lines))
            return rows, info
        if arguments.console_only:
            rows.append(_console_row(arguments, work, base))
            return rows, info
        if arguments.notify_only:
            export_db = work / "export.db"
            copy_database(base, export_db)
            out = work / "out-notify"
            out.mkdir()
            exported = run_isolated(
                steps.export_ours, work=work, database=export_db, folder=out, now=now
            )
            shipped = work / "updated_orders.csv"
            run_isolated(
                steps.shipped_file,
                export_file=Path(exported["path"]),
                target=shipped,
                today=now.date(),
            )
            rows.extend(_notify_rows(arguments, work, export_db, shipped, lines, now))
            return rows, info

        # Export and import change the store: each round runs on fresh copies, ftpbridge and
        # floor taking turns, and the best of each counts (on this kind of machine a single
        # run varies by up to 35 %: the page cache and the disk decide).
        rounds = arguments.repeat
        _say(f"export (best of {rounds}) ...")
        export_db = work / "export.db"
        ours_runs, floor_runs = [], []
        for round_ in range(rounds):
            copy_database(base, export_db)
            out = work / f"out{round_}"
            out.mkdir()
            ours_runs.append(
                run_isolated(steps.export_ours, work=work, database=export_db, folder=out, now=now)
            )
            floor_runs.append(
                run_isolated(steps.export_floor, database=base, target=work / "floor.csv")
            )
        ours, floor = _best(ours_runs), _best(floor_runs)
        export_file = Path(ours_runs[-1]["path"])  # the last round's store: export_db
        row = _rounds_row("export", ours_runs, floor_runs, lines, EXPORT, {"bytes": ours["bytes"]})
        if any(run["rows"] != lines for run in ours_runs + floor_runs):
            row.problems.append(f"exported {ours['rows']} rows, floor {floor['rows']}")
        rows.append(row)

        _say(f"import (best of {rounds}) ...")
        shipped = work / "updated_orders.csv"
        run_isolated(steps.shipped_file, export_file=export_file, target=shipped, today=now.date())
        import_db, floor_db = work / "import.db", work / "import_floor.db"
        ours_runs, floor_runs = [], []
        for _round in range(rounds):
            copy_database(export_db, import_db)
            copy_database(export_db, floor_db)
            ours_runs.append(
                run_isolated(
                    steps.import_ours,
                    work=work,
                    database=import_db,
                    path=shipped,
                    now=now,
                    report=work / "report.csv",
                )
            )
            floor_runs.append(
                run_isolated(steps.import_floor, database=floor_db, path=shipped, now=now)
            )
        ours = _best(ours_runs)
        row = _rounds_row(
            "import",
            ours_runs,
            floor_runs,
            lines,
            IMPORT,
            {key: ours[key] for key in ("status", "applied", "unchanged", "rejected")},
        )
        for run in ours_runs:
            if run["status"] != "applied" or run["applied"] != lines:
                row.problems.append(
                    f"{run['status']}: applied {run['applied']} of {lines}"
                    f" (rejected {run['rejected']}) {run['message']}".strip()
                )
                break
        rows.append(row)

        _say("re-import ...")
        again = run_isolated(
            steps.import_ours,
            work=work,
            database=import_db,
            path=shipped,
            now=now,
            report=work / "report-again.csv",
        )
        row = Row(
            "re-import",
            again["seconds"],
            None,
            lines,
            again["peak_rss_mb"],
            targets=REIMPORT,
            details={"status": again["status"]},
        )
        if again["status"] != "already_processed":
            row.problems.append(f"status {again['status']}, not already_processed")
        rows.append(row)

        if not arguments.skip_notify:
            rows.extend(_notify_rows(arguments, work, export_db, shipped, lines, now))

        if not arguments.skip_postgres:
            from bench.postgres import run_postgres_import_bench

            _say("import on PostgreSQL (a throwaway cluster) ...")
            for result in run_postgres_import_bench(lines, repeat=arguments.repeat):
                rows.append(
                    Row(
                        result["step"],
                        result["ftpbridge_s"],
                        result["floor_s"],
                        result["lines"],
                        targets=(IMPORT[0],),
                        details={"floor": "read_csv + COPY + the same UPDATE ... FROM"},
                    )
                )

        if not arguments.skip_transfers:
            _say("transfers (FTP, FTPS, SFTP; best of 3 each) ...")
            source = None if arguments.transfer_mb else export_file
            size_mb = arguments.transfer_mb or max(1, math.ceil(export_file.stat().st_size / MB))
            moved = run_isolated(steps.transfers, source=source, size_mb=size_mb)
            for result in moved["rows"]:
                kind = result["step"].split()[0]
                row = Row(
                    result["step"],
                    result["ftpbridge_s"],
                    result["floor_s"],
                    lines if source is not None else None,
                    moved["peak_rss_mb"],
                    targets=SFTP if kind == "sftp" else FTP,
                    details={"mb_per_s": result["mb_per_s"], "mb": round(size_mb, 1)},
                )
                rows.append(row)

        _say(f"poll over {arguments.poll_files:,} unrelated files ...")
        polled = run_isolated(
            steps.poll, work=work, database=export_db, files=arguments.poll_files, now=now
        )
        row = Row(
            f"poll ({arguments.poll_files:,} files)",
            polled["seconds"],
            polled["floor_seconds"],
            None,
            polled["peak_rss_mb"],
            targets=POLL,
            details={key: polled[key] for key in ("downloads", "imports", "listed")},
        )
        if polled["downloads"] or polled["imports"]:
            row.problems.append(f"downloaded {polled['downloads']} file(s)")
        rows.append(row)
        if not arguments.skip_api:
            rows.extend(_api_rows(arguments, work, base, lines))
        if not arguments.skip_inventory:
            rows.extend(_inventory_rows(arguments, work))
        if not arguments.skip_console:
            rows.append(_console_row(arguments, work, base))
    finally:
        if arguments.keep:
            _say(f"kept the files in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return rows, info


def _notify_rows(
    arguments: argparse.Namespace,
    work: Path,
    export_db: Path,
    shipped: Path,
    lines: int,
    now: dt.datetime,
) -> list[Row]:
    """The import with webhook events beside the same import without (rounds in turns, each
    on a fresh copy), and the outbox's throughput beside the receiver alone."""
    from bench.notify import import_with_events, send_bench

    rounds = arguments.repeat
    _say(f"import with webhook events (best of {rounds}) ...")
    database = work / "notify-import.db"
    ours_runs, floor_runs = [], []
    for _round in range(rounds):
        copy_database(export_db, database)
        ours_runs.append(
            run_isolated(
                import_with_events,
                work=work,
                database=database,
                path=shipped,
                now=now,
                report=work / "report-events.csv",
            )
        )
        copy_database(export_db, database)
        floor_runs.append(
            run_isolated(
                steps.import_ours,
                work=work,
                database=database,
                path=shipped,
                now=now,
                report=work / "report-plain.csv",
            )
        )
    row = _rounds_row(
        "import with webhook events",
        ours_runs,
        floor_runs,
        lines,
        NOTIFY_IMPORT,
        {"floor": "the same import without events", "events": _best(ours_runs)["events"]},
    )
    if any(run["events"] != lines for run in ours_runs):
        row.problems.append(f"{_best(ours_runs)['events']} events written for {lines} lines")
    rows = [row]
    events = arguments.notify_events
    _say(f"notify send: {events:,} events to a local receiver ...")
    folder = work / "notify-send"
    folder.mkdir()
    sent = send_bench(folder, events)
    row = Row(
        f"notify send ({events:,} events)",
        sent["seconds"],
        sent["floor_seconds"],
        sent["events"],
        sent["peak_rss_mb"],
        targets=(
            Target("seconds", events / NOTIFY_SEND_RATE, f"≥ {NOTIFY_SEND_RATE:,.0f} events/s"),
        ),
        details={
            "events_per_s": round(sent["events"] / sent["seconds"]),
            "floor_events_per_s": round(sent["events"] / sent["floor_seconds"]),
            "posts": sent["posts"],
            "batch": 100,
            "floor": "the same signed bodies POSTed by one httpx client, no store",
        },
    )
    if sent["delivered"] != events or sent["failed"]:
        row.problems.append(f"delivered {sent['delivered']} of {events}, {sent['failed']} failed")
    rows.append(row)
    return rows


def _api_rows(arguments: argparse.Namespace, work: Path, base: Path, lines: int) -> list[Row]:
    from bench.api import CLIENTS, api_bench

    _say(f"Orders API ({CLIENTS} clients, {arguments.api_requests} requests a row) ...")
    database = work / "api.db"
    copy_database(base, database)
    measured = run_isolated(
        api_bench,
        work=work,
        database=database,
        requests=arguments.api_requests,
        update_rounds=arguments.api_update_rounds,
    )
    rows = _api_measured_rows(measured, "")
    if not arguments.skip_postgres:
        from bench.postgres import run_postgres_api_bench

        _say(f"Orders API on PostgreSQL ({lines:,} lines) ...")
        measured = run_isolated(
            run_postgres_api_bench,
            lines=lines,
            requests=arguments.api_requests,
            update_rounds=arguments.api_update_rounds,
        )
        rows.extend(_api_measured_rows(measured, " (PostgreSQL)"))
    return rows


def _api_measured_rows(measured: dict[str, Any], suffix: str) -> list[Row]:
    from bench.api import CLIENTS

    rows = []
    for name, label in (("not_shipped", "not_shipped, page of 250"), ("term", "term search")):
        ours, floor = measured[name]["ours"], measured[name]["floor"]
        rows.append(
            Row(
                f"api view {label} (p50, {CLIENTS} clients){suffix}",
                ours["p50_s"],
                floor["p50_s"],
                None,
                measured["peak_rss_mb"],
                targets=API_VIEW,
                details={
                    "p99_s": round(ours["p99_s"], 4),
                    "floor_p99_s": round(floor["p99_s"], 4),
                    "requests_per_s": round(ours["requests_per_s"], 1),
                    "floor_requests_per_s": round(floor["requests_per_s"], 1),
                    "requests": ours["requests"],
                    "items_in_store": measured["items"],
                },
            )
        )
    update = measured["update"]
    rows.append(
        Row(
            f"api update of {update['items']:,} items{suffix}",
            update["ours_s"],
            update["floor_s"],
            update["items"],
            measured["peak_rss_mb"],
            targets=API_UPDATE,
            details={
                "runs_s": update["ours_runs_s"],
                "floor_runs_s": update["floor_runs_s"],
                "httpx_client_s": update["httpx_s"] and round(update["httpx_s"], 4),
                "httpx_client_ratio": update["httpx_s"]
                and round(update["httpx_s"] / update["httpx_floor_s"], 3),
                "httpx_client_runs_s": update["httpx_runs_s"],
                "items_in_store": measured["items"],
            },
        )
    )
    return rows


def _inventory_rows(arguments: argparse.Namespace, work: Path) -> list[Row]:
    from bench import inventory

    lines = arguments.inventory_lines
    rows: list[Row] = []
    for size in sorted({max(1, lines // 4), max(1, lines // 2), lines}):
        rounds = arguments.repeat if size == lines else 1
        _say(f"inventory snapshot of {size:,} lines (best of {rounds}) ...")
        base, snapshot = work / f"inventory-{size}.db", work / f"inventory-{size}.csv"
        run_isolated(inventory.build, database=base, lines=size)
        written = run_isolated(inventory.snapshot_file, path=snapshot, lines=size)
        ours_db, floor_db = work / "inventory-ours.db", work / "inventory-floor.db"
        ours_runs, floor_runs = [], []
        for _round in range(rounds):
            copy_database(base, ours_db)
            copy_database(base, floor_db)
            ours_runs.append(
                run_isolated(
                    inventory.ours, database=ours_db, path=snapshot, report=work / "stock.csv"
                )
            )
            floor_runs.append(run_isolated(inventory.floor, database=floor_db, path=snapshot))
        # The full size against its floor; the smaller sizes are there for peak RSS, which
        # must stay flat: the full size's at most 1.25x the quarter's.
        targets: tuple[Target, ...] = ()
        if size == lines:
            targets = INVENTORY
            if rows:
                flat = 1.25 * (rows[0].peak_rss_mb or 0)
                targets += (Target("rss_mb", flat, f"RSS ≤ 1.25× the {rows[0].lines:,} run's"),)
        row = _rounds_row(
            f"inventory snapshot {size:,}",
            ours_runs,
            floor_runs,
            size,
            targets,
            {"bytes": written["bytes"], "floor": "read_csv + executemany UPDATE by factory_sku"},
        )
        for run in ours_runs:
            if run["status"] != "applied" or run["applied"] != size:
                row.problems.append(
                    f"{run['status']}: applied {run['applied']} of {size}"
                    f" (rejected {run['rejected']}) {run['message']}".strip()
                )
                break
        rows.append(row)
        (work / f"inventory-{size}.db").unlink(missing_ok=True)
    return rows


def _console_row(arguments: argparse.Namespace, work: Path, base: Path) -> Row:
    from bench.console import PARTNERS, console_bench

    _say(f"console Partners page ({PARTNERS} partners) ...")
    database = work / "console.db"
    copy_database(base, database)
    measured = run_isolated(
        console_bench, work=work, database=database, rounds=arguments.console_rounds
    )
    return Row(
        f"console Partners page, {measured['partners']} partners (median)",
        measured["page_s"],
        measured["floor_s"],
        None,
        measured["peak_rss_mb"],
        targets=CONSOLE,
        details={
            "runs_s": measured["page_runs_s"],
            "floor_runs_s": measured["floor_runs_s"],
            "items_in_store": measured["items"],
            "page_bytes": measured["bytes"],
        },
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines (1,000,000)")
    parser.add_argument(
        "--skip-transfers",
        action="store_true",
        help="leave out the FTP/FTPS/SFTP transfers (SFTP needs root and sshd)",
    )
    parser.add_argument(
        "--skip-postgres",
        action="store_true",
        help="leave out the PostgreSQL rows: the import, and the Orders API's (they need"
        " PostgreSQL's initdb and pg_ctl)",
    )
    parser.add_argument(
        "--transfer-mb",
        type=int,
        default=None,
        help="transfer a random file of this size instead of the export",
    )
    parser.add_argument(
        "--poll-files", type=int, default=5_000, help="unrelated files in the polled inbox (5,000)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the results (bench/results/<timestamp>.json)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="folder for the store and files (a temporary folder)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of export and import, ftpbridge and floor in turns; the best counts (3)",
    )
    parser.add_argument("--skip-api", action="store_true", help="leave out the Orders API rows")
    parser.add_argument(
        "--api-only", action="store_true", help="build the store and run only the API rows"
    )
    parser.add_argument(
        "--api-requests",
        type=int,
        default=480,
        help="View Orders requests per API row, spread over 16 clients (480)",
    )
    parser.add_argument(
        "--api-update-rounds", type=int, default=5, help="1,000-item updates measured (5)"
    )
    parser.add_argument(
        "--inventory-lines",
        type=int,
        default=None,
        help="lines (and SKUs) of the inventory snapshot (500,000, or --lines if fewer)",
    )
    parser.add_argument(
        "--skip-inventory", action="store_true", help="leave out the inventory snapshot rows"
    )
    parser.add_argument(
        "--inventory-only",
        action="store_true",
        help="run only the inventory snapshot rows (no order store is built)",
    )
    parser.add_argument(
        "--skip-console", action="store_true", help="leave out the console's Partners page row"
    )
    parser.add_argument(
        "--console-only",
        action="store_true",
        help="build the store and run only the console's Partners page row",
    )
    parser.add_argument(
        "--console-rounds", type=int, default=10, help="Partners pages measured (10)"
    )
    parser.add_argument(
        "--skip-notify", action="store_true", help="leave out the outbox rows (bench/notify.py)"
    )
    parser.add_argument(
        "--notify-only", action="store_true", help="build the store and run only the outbox rows"
    )
    parser.add_argument(
        "--notify-events",
        type=int,
        default=100_000,
        help="events the notify send row delivers to a local receiver (100,000)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    arguments = parser.parse_args(argv)
    if arguments.lines < 1:
        parser.error("--lines must be at least 1")
    if arguments.repeat < 1:
        parser.error("--repeat must be at least 1")
    if arguments.inventory_lines is None:
        arguments.inventory_lines = min(500_000, arguments.lines)
    if arguments.inventory_lines < 1:
        parser.error("--inventory-lines must be at least 1")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse(argv)
    started = time.time()
    rows, info = run(arguments)
    text = table(rows)
    if arguments.inventory_only:
        print(f"ftpbridge benchmark: inventory, {arguments.inventory_lines:,} lines")
    else:
        print(f"ftpbridge benchmark: {arguments.lines:,} order lines ({info['orders']:,} orders)")
    print(text)
    record = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "lines": arguments.lines,
        "orders": info["orders"],
        "build_s": info["build_s"],
        "wall_s": round(time.time() - started, 1),
        "machine": machine(),
        "steps": [row.as_json() for row in rows],
        "table": text.splitlines(),
    }
    target = arguments.json or RESULTS / f"{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results written to {target}")
    # Missed targets are reported, not failed: only a wrong result (rows not exported or
    # applied, a download during the poll) makes the run fail.
    return 1 if any(row.problems for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
