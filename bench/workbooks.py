"""Workbooks (issue 17): ``python -m bench.workbooks --lines 100000``.

Each step runs in a fresh process (``bench.isolated``) so that its peak RSS is its own:

- export: ``export_partner`` to CSV and to the fill-in .xlsx, each on its own copy of the
  same store;
- writers: the export's rows (22 columns of text) written by XlsxWriter in constant-memory
  mode and by openpyxl's write-only mode, nothing else;
- readers: the filled-in .xlsx (the export with every row shipped) read cell by cell by
  python-calamine and by openpyxl's read-only mode;
- import: ``import_file`` of the filled-in CSV and of the same rows as .xlsx, each on its
  own copy of the exported store. The workbook's sheet is read in a child process
  (files/sheets.py): its peak RSS is reported beside the importing process's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench.data import PARTNER
from bench.isolated import run_isolated
from bench.steps import build, export_ours, import_ours, settings_for, shipped_file

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def export_workbook(work: Path, database: Path, folder: Path, now: dt.datetime) -> dict[str, Any]:
    from ftpbridge.exchange.partners import partner_layout
    from ftpbridge.files.exporting import export_partner
    from ftpbridge.store import open_store

    settings = settings_for(work, database)
    partner = settings.partners[PARTNER]
    store = open_store(settings.store_url)
    start = time.perf_counter()
    result = export_partner(
        store, partner, partner_layout(settings, partner), folder, now=now, export_format="xlsx"
    )
    seconds = time.perf_counter() - start
    store.close()
    return {"seconds": seconds, "rows": result.rows, "path": str(result.path), "bytes": result.size}


def write_with(library: str, source: Path, target: Path) -> dict[str, Any]:
    """The CSV's rows as text cells in a new .xlsx, by ``library``; the CSV is read first,
    outside the time."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    rows = list(frame.itertuples(index=False, name=None))
    start = time.perf_counter()
    if library == "xlsxwriter":
        import xlsxwriter

        book = xlsxwriter.Workbook(str(target), {"constant_memory": True})
        sheet = book.add_worksheet()
        write = sheet.write_string
        sheet.write_row(0, 0, list(frame.columns))
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row):
                write(number, column, value)
        book.close()
    else:
        import openpyxl

        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(list(frame.columns))
        for row in rows:
            sheet.append(row)
        workbook.save(target)
    return {
        "seconds": time.perf_counter() - start,
        "rows": len(rows),
        "bytes": target.stat().st_size,
    }


def read_with(library: str, path: Path) -> dict[str, Any]:
    """Every cell of the first sheet, by ``library``."""
    start = time.perf_counter()
    cells = 0
    if library == "calamine":
        from python_calamine import CalamineWorkbook

        for row in CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).iter_rows():
            cells += len(row)
    else:
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for row in book.worksheets[0].iter_rows(values_only=True):
            cells += len(row)
        book.close()
    return {"seconds": time.perf_counter() - start, "cells": cells}


def import_with_child(
    work: Path, database: Path, path: Path, now: dt.datetime, report: Path
) -> dict[str, Any]:
    outcome = import_ours(work, database, path, now, report)
    outcome["child_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
    )
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ftpbridge-bench-workbooks-") as folder:
        work = Path(folder)
        base = work / "base.db"
        run_isolated(build, database=base, lines=arguments.lines, now=NOW)
        results: list[tuple[str, dict[str, Any]]] = []

        def copy(name: str) -> Path:
            target = work / name
            shutil.copyfile(base, target)
            return target

        csv_export = run_isolated(
            export_ours, work=work, database=copy("csv.db"), folder=work / "csv", now=NOW
        )
        results.append(("export, CSV", csv_export))
        results.append(
            (
                "export, .xlsx",
                run_isolated(
                    export_workbook,
                    work=work,
                    database=copy("xlsx.db"),
                    folder=work / "xlsx",
                    now=NOW,
                ),
            )
        )
        exported = Path(csv_export["path"])
        for library in ("xlsxwriter", "openpyxl"):
            results.append(
                (
                    f"write only, {library}",
                    run_isolated(
                        write_with,
                        library=library,
                        source=exported,
                        target=work / f"{library}.xlsx",
                    ),
                )
            )
        shipped_csv = work / "shipped.csv"
        run_isolated(shipped_file, export_file=exported, target=shipped_csv, today=NOW.date())
        shipped_xlsx = work / "shipped.xlsx"
        run_isolated(write_with, library="xlsxwriter", source=shipped_csv, target=shipped_xlsx)
        for library in ("calamine", "openpyxl"):
            results.append(
                (
                    f"read only, {library}",
                    run_isolated(read_with, library=library, path=shipped_xlsx),
                )
            )
        shutil.copyfile(work / "csv.db", base)  # the store as exported: items acknowledged
        for label, path in (("import, CSV", shipped_csv), ("import, .xlsx", shipped_xlsx)):
            outcome = run_isolated(
                import_with_child,
                work=work,
                database=copy(f"import-{path.suffix}.db"),
                path=path,
                now=NOW,
                report=work / f"report-{path.suffix}.csv",
            )
            assert outcome["applied"] == arguments.lines, outcome
            results.append((label, outcome))
        print(
            f"| step ({arguments.lines:,} lines) | seconds | peak RSS | reader child's peak RSS |"
        )
        print("|---|---|---|---|")
        for label, outcome in results:
            child = outcome.get("child_peak_rss_mb")
            print(
                f"| {label} | {outcome['seconds']:.2f} s | {outcome['peak_rss_mb']:.0f} MB |"
                f" {f'{child:.0f} MB' if child else '-'} |"
            )


if __name__ == "__main__":
    main()
