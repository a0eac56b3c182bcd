"""``ftpbridge run`` as a real process with its log, for the daemon and replica tests.

run = FtpbridgeRun(folder)          # folder holds config.toml; the log goes next to it
wait_for(run.running, "the daemon to run")
run.stop()                           # SIGTERM, waits, returns the exit code
run.close()                          # in teardown: SIGKILL if still alive, log closed
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.servers import wait_for

FTPBRIDGE = str(Path(sys.executable).parent / "ftpbridge")


class FtpbridgeRun:
    """One ``ftpbridge --config FOLDER/config.toml run``, its output (JSON lines) in a log
    file of its own in ``folder``."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.log_path = folder / f"run-{time.monotonic_ns()}.log"
        self.log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [FTPBRIDGE, "--config", str(folder / "config.toml"), "run"],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env={**os.environ, **(env or {})},
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log().splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return events

    def running(self) -> bool:
        return any(event.get("event") == "ftpbridge running" for event in self.events())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` once it runs (a signal before its handlers are installed, while
        Python imports, would kill it) and return its exit code."""
        wait_for(lambda: self.running() or self.process.poll() is not None, "the daemon to run")
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.log_file.close()

    def close(self) -> None:
        """Teardown: kill it if it still runs, close its log."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log_file.close()
