"""Every CSV ftpbridge writes keeps the one spreadsheet-safety rule (files/formulas.py):
the export, the import's per-row report and its one-line report, and ``orders list
--format csv``, which wrote customer text raw (``=Poster (signed)``)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ftpbridge.files.importing import import_file
from ftpbridge.files.layouts import load_layout

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
FORMULA = re.compile(r"[=+\-@\t\r]")
HARMLESS = re.compile(r"\+[0-9\s()./\-]*|-[0-9]+(?:[.,][0-9]+)?")


def _formula_cells(text: str) -> list[str]:
    return [
        cell
        for row in csv.reader(io.StringIO(text))
        for cell in row
        if FORMULA.match(cell) and not HARMLESS.fullmatch(cell)
    ]


def test_orders_list_csv_neutralises_customer_text(run_cli) -> None:
    """The sample product "=Poster (signed)" is written '=Poster (signed) in a CSV listing,
    and the table and JSON keep the real text."""
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    listing = run_cli("orders", "list", "--filter", "all", "--format", "csv")
    assert listing.exit_code == 0
    assert _formula_cells(listing.stdout) == []
    assert "'=Poster (signed)" in listing.stdout
    as_json = run_cli("orders", "list", "--filter", "all", "--format", "json")
    assert '"=Poster (signed)"' in as_json.stdout


def test_every_csv_written_keeps_the_rule(run_cli, settings, tmp_path: Path) -> None:
    """Export, per-row report (ids echoed from a hostile file) and one-line report (a file
    named like a formula): no cell that would run."""
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    exported = run_cli("export", "--partner", "ac", "--out", "-")
    assert "Poster" in exported.stdout
    assert _formula_cells(exported.stdout) == []

    hostile = tmp_path / "updated.csv"
    hostile.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\n"
        '=HYPERLINK("http://x"),@SUM(1),true,2026-11-20,Pigeon Post,=1+1\n',
        encoding="utf-8",
    )
    imported = run_cli("import", "--partner", "acme", str(hostile))
    assert imported.exit_code == 1
    report = hostile.with_name(hostile.name + ".report.csv").read_text(encoding="utf-8")
    assert _formula_cells(report) == []
    assert "'=HYPERLINK" in report

    from ftpbridge.store import open_store

    named = tmp_path / "=cmd('calc').csv"
    named.write_bytes(hostile.read_bytes())
    store = open_store(settings.store_url)
    try:
        result = import_file(
            store, settings.partners["acme"], load_layout("default"), named, max_file_bytes=1
        )
    finally:
        store.close()
    assert result.status == "rejected_file"
    assert result.report_path is not None
    note = result.report_path.read_text(encoding="utf-8")
    assert "=cmd" in note
    assert _formula_cells(note) == []
