"""Transfer throughput of ftpbridge's transports against the floor on the same servers.

    .venv/bin/python bench/transfer.py 200

FTP and FTPS are compared with raw ftplib (``storbinary``/``retrbinary`` with the same
256 KiB blocks, the best plain ftplib does), SFTP with OpenSSH's own ``sftp -b`` client
(its connection and login time measured with an empty batch and subtracted). Servers are
the test servers of ``tests/servers.py`` on 127.0.0.1; ftpbridge's time excludes the login
too. ``ratio`` is ftpbridge's throughput divided by the floor's (1.0 = as fast).
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


def _timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _row(step: str, ours: float, floor: float, size_mb: int) -> dict[str, Any]:
    return {
        "step": step,
        "ftpbridge_s": round(ours, 3),
        "floor_s": round(floor, 3),
        "ratio": round(floor / ours, 3),
        "mb_per_s": round(size_mb / ours, 1),
    }


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


def _bench_ftp(server: FTPServer, source: Path, work: Path, size_mb: int) -> list[dict[str, Any]]:
    tls = server.kind == "ftps"
    rows = []
    with open_transport(server.kind, server.params(timeout=120)) as transport:
        up = _timed(lambda: transport.upload(source, "/ours.bin"))
        down = _timed(lambda: transport.download("/ours.bin", work / "ours.bin"))
    raw = _raw_ftplib(server, tls)
    try:
        with source.open("rb") as handle:
            raw_up = _timed(lambda: raw.storbinary("STOR raw.bin", handle, blocksize=BLOCK))
        with (work / "raw.bin").open("wb") as handle:
            raw_down = _timed(lambda: raw.retrbinary("RETR raw.bin", handle.write, BLOCK))
    finally:
        raw.quit()
    if tls:
        rows.append(_row("ftps upload", up, raw_up, size_mb))
        rows.append(_row("ftps download", down, raw_down, size_mb))
    else:
        rows.append(_row("ftp upload", up, raw_up, size_mb))
        rows.append(_row("ftp download", down, raw_down, size_mb))
    (server.home / "ours.bin").unlink()
    (server.home / "raw.bin").unlink()
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


def _bench_sftp(sshd: SSHServer, source: Path, work: Path, size_mb: int) -> list[dict[str, Any]]:
    remote = sshd.remote_root
    with open_transport("sftp", sshd.params(timeout=120)) as transport:
        up = _timed(lambda: transport.upload(source, f"{remote}/ours.bin"))
        down = _timed(lambda: transport.download(f"{remote}/ours.bin", work / "ours.bin"))
    login = min(_openssh_batch(sshd, "pwd\n") for _ in range(3))
    raw_up = _openssh_batch(sshd, f"put {source} {remote}/raw.bin\n") - login
    raw_down = _openssh_batch(sshd, f"get {remote}/raw.bin {work / 'raw.bin'}\n") - login
    if (work / "raw.bin").stat().st_size != source.stat().st_size:
        raise RuntimeError("OpenSSH's sftp did not transfer the whole file")
    return [
        _row("sftp upload", up, raw_up, size_mb),
        _row("sftp download", down, raw_down, size_mb),
    ]


def run_transfer_bench(size_mb: int) -> list[dict[str, Any]]:
    """Create a ``size_mb`` file; upload and download it with ftpbridge and with the floor
    (raw ftplib for FTP/FTPS, OpenSSH's sftp for SFTP) on the same local servers.

    Return one row per step: ``{step, ftpbridge_s, floor_s, ratio, mb_per_s}``. SFTP rows
    need root and sshd (see ``tests/servers.start_sshd``).
    """
    work = Path(tempfile.mkdtemp(prefix="ftpbridge-bench-"))
    rows: list[dict[str, Any]] = []
    try:
        source = work / "source.bin"
        _write_random(source, size_mb)
        home = work / "home"
        home.mkdir()
        certificate = make_certificate(work / "tls")
        for options in ({}, {"certificate": certificate}):
            with start_ftp_server(home, **options) as server:  # type: ignore[arg-type]
                rows += _bench_ftp(server, source, work, size_mb)
        with start_sshd() as sshd:
            rows += _bench_sftp(sshd, source, work, size_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


if __name__ == "__main__":
    import logging

    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    for result in run_transfer_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 200):
        print(json.dumps(result))
