"""Transfer throughput of ftpbridge's transports against the floor on the same servers.

    .venv/bin/python bench/transfer.py 200

FTP and FTPS are compared with raw ftplib (``storbinary``/``retrbinary`` with the same
256 KiB blocks, the best plain ftplib does), SFTP with OpenSSH's own ``sftp -b`` client
(its connection and login time measured with an empty batch and subtracted). Servers are
the test servers of ``tests/servers.py`` on 127.0.0.1; ftpbridge's time excludes the login
too. ``ratio`` is ftpbridge's throughput divided by the floor's (1.0 = as fast).

Files live in /dev/shm when it has room, so that the disk's writeback does not decide the
figures (the sshd chroot must stay on a root-owned path on disk; both sides share that).
Each figure is the best of ``ROUNDS`` runs, ftpbridge and floor taking turns: single runs
on a small machine vary by a factor of two (page-cache writeback, CPU sharing).
"""

from __future__ import annotations

import ftplib
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers lives in the checkout

from ftpbridge.transport import open_transport
from tests.servers import (
    FTPServer,
    SSHServer,
    make_certificate,
    start_ftp_server,
    start_sshd,
)

BLOCK = 256 * 1024
ROUNDS = 5


def _timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _row(step: str, ours: float, floor: float, size_mb: float) -> dict[str, Any]:
    return {
        "step": step,
        "ftpbridge_s": round(ours, 3),
        "floor_s": round(floor, 3),
        "ratio": round(floor / ours, 3),
        "mb_per_s": round(size_mb / ours, 1),
    }


def _forget(*paths: Path) -> None:
    """Remove earlier results outside the timed part, so no side pays for freeing them."""
    for path in paths:
        path.unlink(missing_ok=True)


def _write_random(path: Path, size_mb: int) -> None:
    with path.open("wb") as handle:
        for _ in range(size_mb):
            handle.write(os.urandom(1024 * 1024))


def _raw_ftplib(server: FTPServer, tls: bool) -> ftplib.FTP:
    if tls:
        context = ssl.create_default_context(cafile=str(server.ca_file))
        client: ftplib.FTP = ftplib.FTP_TLS(context=context)  # noqa: S321  (FTPS, verified)
    else:
        client = ftplib.FTP()  # noqa: S321  (the floor we compare plain FTP against)
    client.connect(server.host, server.port, timeout=60)
    client.login(server.username, server.password)
    if isinstance(client, ftplib.FTP_TLS):
        client.prot_p()
    return client


def _bench_ftp(server: FTPServer, source: Path, work: Path, size_mb: float) -> list[dict[str, Any]]:
    tls = server.kind == "ftps"
    rows = []
    times: dict[str, list[float]] = {"up": [], "down": [], "raw_up": [], "raw_down": []}
    with open_transport(server.kind, server.params(timeout=120)) as transport:
        raw = _raw_ftplib(server, tls)
        try:
            for _ in range(ROUNDS):
                _forget(server.home / "ours.bin", server.home / "raw.bin")
                _forget(work / "ours.bin", work / "raw.bin")
                times["up"].append(_timed(lambda: transport.upload(source, "/ours.bin")))
                with source.open("rb") as handle:
                    times["raw_up"].append(
                        _timed(lambda: raw.storbinary("STOR raw.bin", handle, blocksize=BLOCK))
                    )
                times["down"].append(
                    _timed(lambda: transport.download("/ours.bin", work / "ours.bin"))
                )
                with (work / "raw.bin").open("wb") as handle:
                    times["raw_down"].append(
                        _timed(lambda: raw.retrbinary("RETR raw.bin", handle.write, BLOCK))
                    )
        finally:
            raw.quit()
    up, down, raw_up, raw_down = (min(times[key]) for key in ("up", "down", "raw_up", "raw_down"))
    if tls:
        rows.append(_row("ftps upload", up, raw_up, size_mb))
        rows.append(_row("ftps download", down, raw_down, size_mb))
    else:
        rows.append(_row("ftp upload", up, raw_up, size_mb))
        rows.append(_row("ftp download", down, raw_down, size_mb))
    _forget(server.home / "ours.bin", server.home / "raw.bin")
    return rows


def _openssh_batch(sshd: SSHServer, batch: str) -> float:
    key, _ = sshd.client_keys["ed25519"]
    command = [
        "sftp", "-q", "-b", "-", "-i", str(key), "-P", str(sshd.port),
        "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes", f"{sshd.username}@{sshd.host}",
    ]  # fmt: skip
    return _timed(
        lambda: subprocess.run(command, input=batch, text=True, check=True, capture_output=True)
    )


def _bench_sftp(sshd: SSHServer, source: Path, work: Path, size_mb: float) -> list[dict[str, Any]]:
    remote = sshd.remote_root
    login = min(_openssh_batch(sshd, "pwd\n") for _ in range(ROUNDS))
    times: dict[str, list[float]] = {"up": [], "down": [], "raw_up": [], "raw_down": []}
    with open_transport("sftp", sshd.params(timeout=120)) as transport:
        for _ in range(ROUNDS):
            _forget(sshd.upload_dir / "ours.bin", sshd.upload_dir / "raw.bin")
            _forget(work / "ours.bin", work / "raw.bin")
            times["up"].append(_timed(lambda: transport.upload(source, f"{remote}/ours.bin")))
            times["raw_up"].append(_openssh_batch(sshd, f"put {source} {remote}/raw.bin\n") - login)
            times["down"].append(
                _timed(lambda: transport.download(f"{remote}/ours.bin", work / "ours.bin"))
            )
            times["raw_down"].append(
                _openssh_batch(sshd, f"get {remote}/raw.bin {work / 'raw.bin'}\n") - login
            )
    up, down, raw_up, raw_down = (min(times[key]) for key in ("up", "down", "raw_up", "raw_down"))
    if (work / "raw.bin").stat().st_size != source.stat().st_size:
        raise RuntimeError("OpenSSH's sftp did not transfer the whole file")
    return [
        _row("sftp upload", up, raw_up, size_mb),
        _row("sftp download", down, raw_down, size_mb),
    ]


def run_transfer_bench(size_mb: int, *, source: Path | None = None) -> list[dict[str, Any]]:
    """Create a ``size_mb`` file (or take a copy of ``source``, e.g. an export, when given);
    upload and download it with ftpbridge and with the floor
    (raw ftplib for FTP/FTPS, OpenSSH's sftp for SFTP) on the same local servers.

    Return one row per step: ``{step, ftpbridge_s, floor_s, ratio, mb_per_s}``. SFTP rows
    need root and sshd (see ``tests/servers.start_sshd``).
    """
    shm = Path("/dev/shm")  # noqa: S108  (a RAM disk, on purpose)
    room = shm.is_dir() and shutil.disk_usage(shm).free > 6 * size_mb * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="ftpbridge-bench-", dir=shm if room else None))
    rows: list[dict[str, Any]] = []
    try:
        if source is None:
            source = work / "source.bin"
            _write_random(source, size_mb)
        else:
            source = Path(shutil.copyfile(source, work / "source.bin"))
        size = source.stat().st_size / (1024 * 1024)
        home = work / "home"
        home.mkdir()
        certificate = make_certificate(work / "tls")
        for options in ({}, {"certificate": certificate}):
            with start_ftp_server(home, **options) as server:  # type: ignore[arg-type]
                rows += _bench_ftp(server, source, work, size)
        with start_sshd() as sshd:
            rows += _bench_sftp(sshd, source, work, size)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


if __name__ == "__main__":
    import logging

    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    for result in run_transfer_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 200):
        print(json.dumps(result))
