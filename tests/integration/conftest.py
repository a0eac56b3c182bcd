"""Fixtures with real servers on 127.0.0.1: pyftpdlib (FTP, FTP without MLSD, FTPS) and
OpenSSH's sshd, plus ``transport_case``, which runs one test against every transport."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# `python -m pytest` puts the checkout on sys.path; plain `pytest` does not, and
# tests/servers.py is shared with other test packages as `tests.servers`.
_CHECKOUT = str(Path(__file__).resolve().parents[2])
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from ftpbridge.transport import ConnectionParams  # noqa: E402
from tests.servers import (  # noqa: E402
    CertificateFiles,
    FTPServer,
    SSHServer,
    TransportCase,
    make_certificate,
    start_ftp_server,
    start_sshd,
)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """A CA and a server certificate for 127.0.0.1/localhost signed by it."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def ftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServer]:
    """A plain FTP server with MLSD."""
    server = start_ftp_server(tmp_path_factory.mktemp("ftp-home"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ftp_server_without_mlsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServer]:
    """A plain FTP server without MLSD/MLST, like vsftpd."""
    server = start_ftp_server(tmp_path_factory.mktemp("ftp-nomlsd-home"), mlsd=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ftps_server(
    tmp_path_factory: pytest.TempPathFactory, certificate: CertificateFiles
) -> Iterator[FTPServer]:
    """An FTPS server (explicit TLS, TLS required) that also requires TLS session reuse."""
    server = start_ftp_server(
        tmp_path_factory.mktemp("ftps-home"), certificate=certificate, require_tls_reuse=True
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SSHServer]:
    """OpenSSH's sshd with a chrooted SFTP-only test user (password and key auth)."""
    server = start_sshd()
    yield server
    server.stop()


TRANSPORT_NAMES = ["local", "ftp", "ftp-without-mlsd", "ftps", "sftp"]


@pytest.fixture(params=TRANSPORT_NAMES)
def transport_case(request: pytest.FixtureRequest, tmp_path: Path) -> TransportCase:
    """Each transport in turn, with an empty directory of its own on the server."""
    leaf = f"t-{uuid.uuid4().hex[:10]}"
    name = request.param
    if name == "local":
        root = tmp_path / "local-root"
        (root / leaf).mkdir(parents=True)
        return TransportCase(name, "local", ConnectionParams(path=root), f"/{leaf}", root / leaf)
    if name == "sftp":
        sshd: SSHServer = request.getfixturevalue("sshd_server")
        disk = sshd.upload_dir / leaf
        disk.mkdir()
        sshd.chown_to_user(disk)
        return TransportCase(
            name,
            "sftp",
            sshd.params(),
            f"{sshd.remote_root}/{leaf}",
            disk,
            owner=(sshd.uid, sshd.gid),
        )
    fixture = {"ftp": "ftp_server", "ftp-without-mlsd": "ftp_server_without_mlsd"}.get(
        name, "ftps_server"
    )
    server: FTPServer = request.getfixturevalue(fixture)
    disk = server.home / leaf
    disk.mkdir()
    return TransportCase(name, server.kind, server.params(), f"/{leaf}", disk)
