"""Progress of long work on a terminal, and nothing on a pipe (issue 11 item 20)."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

from ftpbridge.cli.progress import Progress, TransferLines
from ftpbridge.transport.progress import Transfer
from tests.terminal import FTPBRIDGE, read_all, run_with_terminal_stderr

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"


def test_nothing_is_written_off_a_terminal() -> None:
    """A StringIO (a pipe, a file): no progress at all."""
    stream = io.StringIO()
    with Progress("Loading orders", unit="bytes", stream=stream) as progress:
        progress(50, 100)
        progress(100, 100)
    assert stream.getvalue() == ""


def test_orders_load_export_import_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    """On a terminal: a progress line, rewritten in place and cleared; on a pipe: none."""
    (tmp_path / "config.toml").write_text(
        '[store]\nurl = "sqlite:///ftpbridge.db"\n[partners.acme]\ndefault = true\n',
        encoding="utf-8",
    )
    code, out, terminal = run_with_terminal_stderr(["orders", "load", str(EXAMPLES)], tmp_path)
    assert code == 0, terminal
    line = "Loading orders: 100% (0.0 of 0.0 MB)"
    assert "\r" + line in terminal
    assert "\r" + " " * len(line) + "\r" in terminal  # cleared when the work ends
    assert "Loaded 12 orders" in out
    code, _, terminal = run_with_terminal_stderr(["export", "--partner", "acme"], tmp_path)
    assert code == 0 and "\rExporting: 17 items" in terminal
    piped = subprocess.run(
        [str(FTPBRIDGE), "export", "--partner", "acme", "--dry-run", "--out", "-"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0
    assert "Exporting" not in piped.stderr and "\r" not in piped.stderr


def test_transfer_lines_show_one_direction_unknown_sizes_and_names_safely() -> None:
    """On a real pseudo-terminal: only the directions asked for; the MB alone when the size
    is not known; a remote name's control characters escaped and a long name shortened in
    the middle; each transfer's line cleared when it ends."""
    main, secondary = os.openpty()
    terminal = os.fdopen(secondary, "w", encoding="utf-8")
    lines = TransferLines({"download"}, stream=terminal)
    report = Transfer("upload", "orders_1.csv.report.csv", 900)
    lines.advance(report, 900)
    lines.end(report)
    hostile = Transfer("download", "orders\x1b[2J.csv", None)
    lines.advance(hostile, 1_500_000)
    lines.end(hostile)
    long_name = "orders_" + "x" * 200 + "_updated.csv"
    lines.advance(Transfer("download", long_name, 4_000_000), 1_000_000)
    lines.close()
    terminal.close()
    seen = read_all(main)
    os.close(main)
    assert "Uploading" not in seen
    first = "Downloading orders\\x1b[2J.csv: 1.5 MB"
    assert seen.startswith("\r" + first + "\r" + " " * len(first) + "\r")
    assert "\x1b" not in seen
    second = "Downloading orders_xxxxxxxxxxxx...xxxxxx_updated.csv: 25% (1.0 of 4.0 MB)"
    assert "\r" + second + "\r" + " " * len(second) + "\r" in seen
