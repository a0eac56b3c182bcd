"""What the progress line costs a transfer: a 200 MB upload and download, local and FTP,
with no transfer observer set (as the service runs) and with the command line's
(``cli.progress.TransferLines`` drawing on a real pseudo-terminal), taking turns.

    .venv/bin/python bench/transfer_progress.py 200

Best and median of ``ROUNDS`` runs each, in seconds; files in /dev/shm when it has room.
"""

from __future__ import annotations

import json
import logging
import os
import pty
import shutil
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers lives in the checkout

from bench.transfer import _forget, _timed, _write_random
from ftpbridge.cli.progress import TransferLines
from ftpbridge.transport import ConnectionParams, Transport, open_transport
from ftpbridge.transport.progress import observing
from tests.servers import start_ftp_server

ROUNDS = 5


@contextmanager
def _terminal_lines() -> Iterator[TransferLines]:
    """TransferLines drawing on a pseudo-terminal whose other side is read (and dropped)."""
    main, secondary = pty.openpty()
    stream = os.fdopen(secondary, "w", encoding="utf-8")

    def drain() -> None:
        try:
            while os.read(main, 65536):
                pass
        except OSError:
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield TransferLines({"upload", "download"}, stream=stream)
    finally:
        stream.close()
        reader.join(timeout=5)
        os.close(main)


def _bench(name: str, transport: Transport, remote: Path, remote_dir: str, source: Path,
           work: Path, lines: TransferLines) -> list[dict[str, Any]]:  # fmt: skip
    times: dict[str, list[float]] = {}
    for _ in range(ROUNDS):
        for observed in (False, True):
            context: AbstractContextManager[None] = observing(lines) if observed else nullcontext()
            suffix = " (progress shown)" if observed else ""
            _forget(remote / "ours.bin", work / "ours.bin")
            with context:
                up = partial(transport.upload, source, f"{remote_dir}/ours.bin")
                times.setdefault(f"{name} upload{suffix}", []).append(_timed(up))
                down = partial(transport.download, f"{remote_dir}/ours.bin", work / "ours.bin")
                times.setdefault(f"{name} download{suffix}", []).append(_timed(down))
    return [
        {"step": step, "best_s": round(min(runs), 3), "median_s": round(statistics.median(runs), 3)}
        for step, runs in times.items()
    ]


def main(size_mb: int) -> list[dict[str, Any]]:
    shm = Path("/dev/shm")  # noqa: S108  (a RAM disk, on purpose)
    room = shm.is_dir() and shutil.disk_usage(shm).free > 4 * size_mb * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="ftpbridge-bench-", dir=shm if room else None))
    rows: list[dict[str, Any]] = []
    try:
        source = work / "source.bin"
        _write_random(source, size_mb)
        home = work / "home"
        home.mkdir()
        with _terminal_lines() as lines:
            local = open_transport("local", ConnectionParams(path=home))
            with local:
                rows += _bench("local", local, home, "", source, work, lines)
            with start_ftp_server(home) as server:
                logging.getLogger("pyftpdlib").setLevel(logging.WARNING)  # serving set INFO
                with open_transport("ftp", server.params(timeout=120)) as ftp:
                    rows += _bench("ftp", ftp, home, "", source, work, lines)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for row in main(int(sys.argv[1]) if len(sys.argv) > 1 else 200):
        print(json.dumps(row))
