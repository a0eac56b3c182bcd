"""Progress of long work on a terminal, and nothing on a pipe (issue 11 item 20)."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from ftpbridge.cli.progress import Progress

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
FTPBRIDGE = Path(sys.executable).parent / "ftpbridge"


def test_nothing_is_written_off_a_terminal() -> None:
    """A StringIO (a pipe, a file): no progress at all."""
    stream = io.StringIO()
    with Progress("Loading orders", unit="bytes", stream=stream) as progress:
        progress(50, 100)
        progress(100, 100)
    assert stream.getvalue() == ""


def _run_with_terminal_stderr(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ftpbridge with stderr on a pseudo-terminal; (exit code, stdout, terminal text)."""
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [str(FTPBRIDGE), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=secondary, text=True
    )
    os.close(secondary)
    seen = b""
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out, _ = process.communicate(timeout=120)
    os.close(main)
    return process.returncode, out, seen.decode("utf-8", "replace")


def test_orders_load_export_import_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    """On a terminal: a progress line, rewritten in place and cleared; on a pipe: none."""
    (tmp_path / "config.toml").write_text(
        '[store]\nurl = "sqlite:///ftpbridge.db"\n[partners.acme]\ndefault = true\n',
        encoding="utf-8",
    )
    code, out, terminal = _run_with_terminal_stderr(["orders", "load", str(EXAMPLES)], tmp_path)
    assert code == 0, terminal
    line = "Loading orders: 100% (0.0 of 0.0 MB)"
    assert "\r" + line in terminal
    assert "\r" + " " * len(line) + "\r" in terminal  # cleared when the work ends
    assert "Loaded 12 orders" in out
    code, _, terminal = _run_with_terminal_stderr(["export", "--partner", "acme"], tmp_path)
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
