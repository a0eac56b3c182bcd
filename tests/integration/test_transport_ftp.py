"""FTP and FTPS behaviour beyond the shared contract, against real pyftpdlib servers."""

from __future__ import annotations

import ftplib
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from ftpbridge.errors import (
    AuthenticationError,
    TargetExistsError,
    TLSVerificationError,
    TransportError,
)
from ftpbridge.transport import (
    ConnectionParams,
    CrossDirectoryRenameError,
    is_partial_upload,
    move,
    open_transport,
)
from ftpbridge.transport.ftp import connection as ftp_connection
from tests.servers import CertificateFiles, FTPServer, make_certificate, start_ftp_server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory for a server of the test's own."""
    directory = tmp_path / "home"
    directory.mkdir()
    return directory


@pytest.fixture
def holding_server(home: Path) -> Iterator[FTPServer]:
    """An FTP server that holds the first file transfer after 256 KiB until released."""
    server = start_ftp_server(home, hold_after_bytes=256 * 1024)
    yield server
    server.stats.release.set()
    server.stop()


def test_a_reader_never_sees_the_final_name_during_an_upload(
    holding_server: FTPServer, tmp_path: Path
) -> None:
    """While an upload is in flight only '.<name>.<random>.part' is listed; the name appears at the
    end. The server holds the upload half-way, so the listing is taken mid-upload."""
    local = tmp_path / "big.csv"
    local.write_bytes(os.urandom(1280 * 1024))
    outcome: dict[str, Any] = {}

    def upload() -> None:
        with open_transport("ftp", holding_server.params()) as writer:
            writer.upload(local, "/big.csv")
        outcome["done"] = True

    uploader = threading.Thread(target=upload)
    uploader.start()
    try:
        assert holding_server.stats.held.wait(timeout=30), "the upload never reached the server"
        with open_transport("ftp", holding_server.params()) as reader:
            during = {entry.name for entry in reader.list("/")}
    finally:
        holding_server.stats.release.set()
        uploader.join(timeout=60)
    assert [name for name in during if name.startswith(".big.csv.")] == [
        name for name in during if is_partial_upload(name)
    ]
    assert len(during) == 1 and is_partial_upload(next(iter(during)))
    assert "big.csv" not in during
    assert outcome.get("done")
    with open_transport("ftp", holding_server.params()) as reader:
        assert {entry.name for entry in reader.list("/")} == {"big.csv"}
    assert (holding_server.home / "big.csv").read_bytes() == local.read_bytes()


def test_listing_without_mlsd_uses_list(home: Path) -> None:
    """On a server without MLSD (vsftpd) list() parses LIST and never sends MLSD."""
    (home / "a.csv").write_bytes(b"12345")
    (home / "sub").mkdir()
    with start_ftp_server(home, mlsd=False) as server:
        with open_transport("ftp", server.params()) as transport:
            entries = {entry.name: entry for entry in transport.list("/")}
        assert server.stats.commands["LIST"] == 1
        assert server.stats.commands["MLSD"] == 0
    assert entries["a.csv"].size == 5
    assert entries["a.csv"].mtime is not None
    assert entries["sub"].is_dir


def test_fabricated_hostile_names_from_the_server_are_skipped(home: Path) -> None:
    """Names no disk can hold ('../x', '/etc/passwd', 300 characters) are dropped from listings."""
    (home / "good.csv").write_bytes(b"ok")
    fakes = ("../x", "..", "/etc/passwd", "a" * 300 + ".csv", "sub/evil.csv", "")
    for mlsd in (True, False):
        with start_ftp_server(home, mlsd=mlsd, fake_names=fakes) as server:
            with capture_logs() as logs, open_transport("ftp", server.params()) as transport:
                names = [entry.name for entry in transport.list("/")]
        assert names == ["good.csv"], f"mlsd={mlsd}"
        skipped = [log["name"] for log in logs if log["event"] == "unsafe remote name skipped"]
        assert any("../x" in name for name in skipped)
        assert any("a" * 250 in name for name in skipped)


def test_download_cut_mid_transfer_is_retried_and_complete(home: Path, tmp_path: Path) -> None:
    """A data connection cut after 300 kB is retried on a new connection; the bytes are right."""
    content = os.urandom(2_000_000)
    (home / "in.csv").write_bytes(content)
    with start_ftp_server(home, cut_data_after_bytes=300_000) as server:
        with capture_logs() as logs, open_transport("ftp", server.params()) as transport:
            written = transport.download("/in.csv", tmp_path / "in.csv")
        assert server.stats.commands["RETR"] == 2
        assert server.stats.cuts_left == 0
    assert written == len(content)
    assert (tmp_path / "in.csv").read_bytes() == content
    assert any(log["event"] == "transient transport error, retrying" for log in logs)


def test_upload_cut_mid_transfer_is_retried_and_complete(home: Path, tmp_path: Path) -> None:
    """An upload whose data connection is cut is sent again; the final file is whole."""
    content = os.urandom(3_000_000)
    local = tmp_path / "out.csv"
    local.write_bytes(content)
    with start_ftp_server(home, cut_data_after_bytes=500_000) as server:
        with open_transport("ftp", server.params()) as transport:
            transport.upload(local, "/out.csv")
        assert server.stats.commands["STOR"] == 2
    assert (home / "out.csv").read_bytes() == content
    assert sorted(os.listdir(home)) == ["out.csv"]


def test_wrong_password_is_tried_exactly_once(ftp_server: FTPServer) -> None:
    """A refused login raises AuthenticationError after one attempt: servers ban retriers."""
    before = ftp_server.stats.commands["PASS"]
    params = ftp_server.params(password="not-the-password", retries=4)
    with pytest.raises(AuthenticationError) as caught, open_transport("ftp", params):
        pass
    assert ftp_server.stats.commands["PASS"] - before == 1
    assert caught.value.transient is False
    assert "530" in str(caught.value)


def test_password_never_appears_in_repr_errors_or_logs(
    ftp_server: FTPServer, tmp_path: Path
) -> None:
    """The password is absent from repr(params), error texts and every captured log event."""
    wrong = "Wr0ng-Secret-Pass"
    ftp_connection._warned.clear()  # the clear-text warning comes once per server and run
    with capture_logs() as logs:
        with (
            pytest.raises(AuthenticationError) as caught,
            open_transport("ftp", ftp_server.params(password=wrong)),
        ):
            pass
        with open_transport("ftp", ftp_server.params()) as transport:
            transport.list("/")
    for secret in (wrong, ftp_server.password):
        assert secret not in repr(ftp_server.params(password=secret))
        assert secret not in str(caught.value)
        assert secret not in str(caught.value.hint)
        assert secret not in repr(logs)
    assert any(log["event"].startswith("plain FTP") for log in logs)


def test_unreachable_server_is_retried_then_reported(tmp_path: Path) -> None:
    """A refused TCP connection is transient: retried, then raised as TransportError."""
    with capture_logs() as logs, pytest.raises(TransportError) as caught:
        with open_transport("ftp", _closed_port_params(retries=2)):
            pass
    assert caught.value.transient is True
    assert "ftp://" in str(caught.value)
    assert len([log for log in logs if log["event"].startswith("transient")]) == 1


def _closed_port_params(**overrides: Any) -> ConnectionParams:
    """Params pointing at a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = ConnectionParams(host="127.0.0.1", port=port, username="u", timeout=2)
    return replace(params, **overrides)


def test_rename_refused_across_directories_raises_a_distinct_error(
    home: Path, tmp_path: Path
) -> None:
    """A server that cannot move between directories gives CrossDirectoryRenameError, and
    move() then copies and deletes instead."""
    (home / "inbox").mkdir()
    (home / "archive").mkdir()
    (home / "inbox" / "a.csv").write_bytes(b"A" * 10_000)
    with start_ftp_server(home, refuse_cross_directory_rename=True) as server:
        with open_transport("ftp", server.params()) as transport:
            with pytest.raises(CrossDirectoryRenameError):
                transport.rename("/inbox/a.csv", "/archive/a.csv")
            move(transport, "/inbox/a.csv", "/archive/a.csv", tmp_path)
    assert (home / "archive" / "a.csv").read_bytes() == b"A" * 10_000
    assert os.listdir(home / "inbox") == []


def test_upload_never_deletes_a_file_the_server_will_not_overwrite(
    home: Path, tmp_path: Path
) -> None:
    """If RNTO onto an existing file is refused, the existing file is left alone (it may be
    another upload's finished file: ftpbridge never deletes a file it did not write):
    TargetExistsError, not retried, and the upload's temporary file is removed."""
    (home / "out.csv").write_bytes(b"old")
    local = tmp_path / "out.csv"
    local.write_bytes(b"new content")
    with start_ftp_server(home, refuse_rename_overwrite=True) as server:
        with (
            pytest.raises(TargetExistsError) as caught,
            open_transport("ftp", server.params()) as transport,
        ):
            transport.upload(local, "/out.csv")
        assert server.stats.commands["DELE"] == 1  # the temporary file, not out.csv
        assert server.stats.commands["STOR"] == 1  # not retried
    assert caught.value.transient is False
    assert (home / "out.csv").read_bytes() == b"old"
    assert os.listdir(home) == ["out.csv"]


# --- FTPS ---------------------------------------------------------------------------------


def test_ftps_refuses_a_certificate_it_cannot_verify(ftps_server: FTPServer) -> None:
    """Without the CA file the self-signed chain does not verify: TLSVerificationError, no retry."""
    with (
        pytest.raises(TLSVerificationError) as caught,
        open_transport("ftps", ftps_server.params(ca_file=None)),
    ):
        pass
    assert caught.value.transient is False
    assert "ca_file" in str(caught.value.hint)


def test_ftps_refuses_a_certificate_from_another_ca(ftps_server: FTPServer, tmp_path: Path) -> None:
    """A CA file of a different authority does not make the server trusted."""
    other = make_certificate(tmp_path / "other", common_name="someone else")
    with (
        pytest.raises(TLSVerificationError),
        open_transport("ftps", ftps_server.params(ca_file=other.ca_file)),
    ):
        pass


def test_ftps_with_the_ca_file_works_and_encrypts_data(
    ftps_server: FTPServer, tmp_path: Path
) -> None:
    """With the CA file the server verifies; transfers run over TLS data connections."""
    local = tmp_path / "x.csv"
    local.write_bytes(b"secret rows")
    before = ftps_server.stats.data_connections
    with open_transport("ftps", ftps_server.params()) as transport:
        transport.upload(local, "/x.csv")
        transport.download("/x.csv", tmp_path / "back.csv")
        transport.delete("/x.csv")
    assert (tmp_path / "back.csv").read_bytes() == b"secret rows"
    assert ftps_server.stats.data_connections - before == 2


def test_ftps_reuses_the_tls_session_on_data_connections(
    ftps_server: FTPServer, tmp_path: Path
) -> None:
    """Every data connection resumes the control session, as vsftpd require_ssl_reuse wants."""
    local = tmp_path / "x.csv"
    local.write_bytes(b"x" * 100_000)
    before = (ftps_server.stats.data_connections, ftps_server.stats.reused_tls_sessions)
    with open_transport("ftps", ftps_server.params()) as transport:
        transport.upload(local, "/reuse.csv")
        transport.list("/")
        transport.download("/reuse.csv", tmp_path / "back.csv")
        transport.delete("/reuse.csv")
    connections = ftps_server.stats.data_connections - before[0]
    reused = ftps_server.stats.reused_tls_sessions - before[1]
    assert connections == 3
    assert reused == connections


def test_the_reuse_requiring_server_refuses_plain_ftplib(
    ftps_server: FTPServer, certificate: CertificateFiles
) -> None:
    """The server really enforces reuse: stock ftplib (no session reuse) cannot list."""
    (ftps_server.home / "plain-ftplib").mkdir(exist_ok=True)
    (ftps_server.home / "plain-ftplib" / "a.csv").write_bytes(b"a")  # a non-empty answer
    before = ftps_server.stats.refused_tls_data
    context = ssl.create_default_context(cafile=str(certificate.ca_file))
    client = ftplib.FTP_TLS(context=context)  # noqa: S321  (FTPS, verified: what is tested)
    client.connect(ftps_server.host, ftps_server.port, timeout=5)
    try:
        client.login(ftps_server.username, ftps_server.password)
        client.prot_p()
        with pytest.raises(ftplib.error_perm, match="522"):
            client.nlst("/plain-ftplib")
    finally:
        client.close()
    assert ftps_server.stats.refused_tls_data - before == 1


def test_ftps_without_verification_warns_on_every_connection(ftps_server: FTPServer) -> None:
    """tls_verify=False connects to an untrusted server but logs a warning each time."""
    params = ftps_server.params(ca_file=None, tls_verify=False)
    with capture_logs() as logs:
        for _ in range(2):
            with open_transport("ftps", params) as transport:
                transport.list("/")
    warnings = [log for log in logs if "verification is off" in log["event"]]
    assert len(warnings) == 2
    assert all(log["log_level"] == "warning" for log in warnings)


def test_the_clear_text_warning_is_given_once_per_server(home: Path) -> None:
    """Plain FTP warns that the password travels in clear text once per server while the
    process runs, not on every poll's connection (issue 11 item 21)."""
    server = start_ftp_server(home)
    try:
        with capture_logs() as logs:
            for _ in range(3):
                with open_transport("ftp", server.params()) as transport:
                    transport.list("/")
        warnings = [log for log in logs if "clear text" in log["event"]]
        assert len(warnings) == 1
        assert warnings[0]["server"].endswith(f"127.0.0.1:{server.port}")
    finally:
        server.stop()
