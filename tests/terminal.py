"""Running ftpbridge with its stderr on a pseudo-terminal, as a person at a shell sees it."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

FTPBRIDGE = Path(sys.executable).parent / "ftpbridge"


def run_with_terminal_stderr(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ftpbridge with stderr on a pseudo-terminal; (exit code, stdout, terminal text)."""
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [str(FTPBRIDGE), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=secondary, text=True
    )
    os.close(secondary)
    seen = read_all(main)
    out, _ = process.communicate(timeout=120)
    os.close(main)
    return process.returncode, out, seen


def read_all(main: int) -> str:
    """Everything written to the terminal whose main side is ``main``, until every writer
    closed its side (a single read may return only part of it: the line discipline hands
    it over in pieces)."""
    seen = b""
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(main, 4096)
        except OSError:  # every writer closed the terminal (EIO)
            break
        if not chunk:
            break
        seen += chunk
    return seen.decode("utf-8", "replace")
