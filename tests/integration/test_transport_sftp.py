"""SFTP behaviour beyond the shared contract, against a real OpenSSH sshd."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from ftpbridge.errors import AuthenticationError, HostKeyError, TransportError
from ftpbridge.transport import open_transport
from ftpbridge.transport.sftp import fetch_host_key, fingerprint, trust_host_key
from tests.servers import CuttingProxy, SSHServer, ssh_fingerprint, start_sshd, wait_for


def _ssh_keygen_public(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub")


def test_unknown_host_key_is_refused_with_its_openssh_fingerprint(
    sshd_server: SSHServer, tmp_path: Path
) -> None:
    """A server missing from known_hosts is refused; the message shows the SHA256 fingerprint
    exactly as ssh-keygen prints it and tells how to trust it."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    expected = ssh_fingerprint(sshd_server.host_keys["ed25519"].with_suffix(".pub"))
    with (
        pytest.raises(HostKeyError) as caught,
        open_transport("sftp", sshd_server.params(known_hosts=empty)),
    ):
        pass
    error = caught.value
    assert expected in str(error)
    assert error.fingerprint == expected
    assert error.host_entry == f"[127.0.0.1]:{sshd_server.port}"
    assert error.key_type == "ssh-ed25519"
    assert "ftpbridge check --partner NAME --trust-host-key" in str(error.hint)
    assert error.transient is False


def test_missing_known_hosts_file_refuses_too(sshd_server: SSHServer, tmp_path: Path) -> None:
    """No known_hosts file (or none configured) never means 'accept anything'."""
    for known_hosts in (tmp_path / "absent", None):
        with (
            pytest.raises(HostKeyError),
            open_transport("sftp", sshd_server.params(known_hosts=known_hosts)),
        ):
            pass


def test_changed_host_key_is_refused(sshd_server: SSHServer, tmp_path: Path) -> None:
    """A known_hosts entry with another key for this server is refused as a CHANGED key."""
    other = _ssh_keygen_public(tmp_path / "other").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd_server.port} {other[0]} {other[1]}\n")
    with (
        pytest.raises(HostKeyError) as caught,
        open_transport("sftp", sshd_server.params(known_hosts=known)),
    ):
        pass
    assert "CHANGED" in str(caught.value)
    assert caught.value.fingerprint == ssh_fingerprint(
        sshd_server.host_keys["ed25519"].with_suffix(".pub")
    )


def test_key_known_under_port_22_name_does_not_match_another_port(
    sshd_server: SSHServer, tmp_path: Path
) -> None:
    """A key recorded for plain '127.0.0.1' (port 22) does not vouch for another port."""
    line = sshd_server.known_hosts_line().split(" ", 1)[1]
    known = tmp_path / "known_hosts"
    known.write_text(f"127.0.0.1 {line}\n")
    with pytest.raises(HostKeyError), open_transport("sftp", sshd_server.params(known_hosts=known)):
        pass


def test_trust_host_key_then_connect(sshd_server: SSHServer, tmp_path: Path) -> None:
    """fetch_host_key + trust_host_key write a 0600 known_hosts line that lets us connect."""
    info = fetch_host_key("127.0.0.1", sshd_server.port, timeout=5)
    assert info.fingerprint == ssh_fingerprint(sshd_server.host_keys["ed25519"].with_suffix(".pub"))
    assert info.host_entry == f"[127.0.0.1]:{sshd_server.port}"
    known = tmp_path / "ssh" / "known_hosts"
    trust_host_key(known, info)
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert known.read_text() == info.known_hosts_line + "\n"
    with open_transport("sftp", sshd_server.params(known_hosts=known)) as transport:
        assert isinstance(transport.list(sshd_server.remote_root), list)


def test_fingerprint_matches_openssh(sshd_server: SSHServer) -> None:
    """fingerprint() of a key blob equals ssh-keygen -l for every host key type."""
    for public in (path.with_suffix(".pub") for path in sshd_server.host_keys.values()):
        blob = base64.b64decode(public.read_text().split()[1])
        assert fingerprint(blob) == ssh_fingerprint(public)


@pytest.mark.parametrize("key_type", ["ed25519", "rsa", "ecdsa"])
def test_key_authentication(sshd_server: SSHServer, key_type: str) -> None:
    """ed25519, RSA (SHA-2 signatures) and ECDSA keys log in; RSA and ECDSA with a passphrase."""
    key, passphrase = sshd_server.client_keys[key_type]
    params = sshd_server.params(password=None, private_key=key, private_key_passphrase=passphrase)
    with open_transport("sftp", params) as transport:
        assert isinstance(transport.list(sshd_server.remote_root), list)
    assert f"Accepted publickey for {sshd_server.username}" in sshd_server.log()


def test_wrong_key_passphrase_is_an_authentication_error(sshd_server: SSHServer) -> None:
    """A wrong passphrase for an encrypted key raises AuthenticationError, no retry."""
    key, _ = sshd_server.client_keys["rsa"]
    params = sshd_server.params(password=None, private_key=key, private_key_passphrase="wrong")
    with pytest.raises(AuthenticationError), open_transport("sftp", params):
        pass


def test_wrong_password_is_tried_exactly_once(sshd_server: SSHServer) -> None:
    """A refused password raises AuthenticationError after exactly one attempt (sshd's log)."""
    mark = sshd_server.log_mark()
    params = sshd_server.params(password="not-the-password", retries=4)
    with pytest.raises(AuthenticationError) as caught, open_transport("sftp", params):
        pass
    assert caught.value.transient is False
    # sshd logs after the client had its answer: wait for the end of every connection the
    # client opened, then count what they did.
    wait_for(
        lambda: sshd_server.failed_password_count(mark) and not sshd_server.open_connections(mark),
        "sshd to log the end of the client's connections",
    )
    assert sshd_server.failed_password_count(since=mark) == 1


def test_password_never_appears_in_repr_errors_or_logs(sshd_server: SSHServer) -> None:
    """The password is absent from repr(params), error texts and every captured log event."""
    wrong = "Wr0ng-SFTP-Secret"
    with capture_logs() as logs:
        with (
            pytest.raises(AuthenticationError) as caught,
            open_transport("sftp", sshd_server.params(password=wrong)),
        ):
            pass
        with open_transport("sftp", sshd_server.params()) as transport:
            transport.list(sshd_server.remote_root)
    for secret in (wrong, sshd_server.password):
        assert secret not in repr(sshd_server.params(password=secret))
        assert secret not in str(caught.value)
        assert secret not in str(caught.value.hint)
        assert secret not in repr(logs)


@pytest.fixture
def proxied(sshd_server: SSHServer, tmp_path: Path) -> Iterator[tuple[CuttingProxy, Path]]:
    """A proxy in front of sshd that cuts its first connection after 2 MB to the client,
    and a known_hosts file naming the proxy's port."""
    proxy = CuttingProxy(sshd_server.port, cut_after_bytes=2_000_000)
    known = tmp_path / "known_hosts"
    known.write_text(sshd_server.known_hosts_line(port=proxy.port) + "\n")
    yield proxy, known
    proxy.close()


def test_download_cut_mid_transfer_is_retried_and_complete(
    sshd_server: SSHServer, proxied: tuple[CuttingProxy, Path], tmp_path: Path
) -> None:
    """A session cut after 2 MB of a 6 MB download reconnects and delivers the right bytes."""
    proxy, known = proxied
    content = os.urandom(6_000_000)
    remote_file = sshd_server.upload_dir / "cut.bin"
    remote_file.write_bytes(content)
    sshd_server.chown_to_user(remote_file)
    params = sshd_server.params(port=proxy.port, known_hosts=known)
    with capture_logs() as logs, open_transport("sftp", params) as transport:
        written = transport.download(f"{sshd_server.remote_root}/cut.bin", tmp_path / "cut.bin")
    assert written == len(content)
    assert (tmp_path / "cut.bin").read_bytes() == content
    assert proxy.connections == 2
    assert any(log["event"] == "transient transport error, retrying" for log in logs)


def test_a_dead_session_is_dropped_and_the_next_call_reconnects(
    sshd_server: SSHServer, proxied: tuple[CuttingProxy, Path]
) -> None:
    """After the connection dies between calls, the next call opens a new session."""
    proxy, known = proxied
    params = sshd_server.params(port=proxy.port, known_hosts=known)
    with open_transport("sftp", params) as transport:
        transport.list(sshd_server.remote_root)
        proxy.cut_all()
        transport.makedirs(f"{sshd_server.remote_root}/after-cut")
    assert (sshd_server.upload_dir / "after-cut").is_dir()
    assert proxy.connections == 2


@pytest.fixture(scope="module")
def sha1_only_sshd() -> Iterator[SSHServer]:
    """An sshd that offers only SHA-1 key exchange and ssh-rsa host key signatures."""
    server = start_sshd(
        extra_config="KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group1-sha1\n"
        "HostKeyAlgorithms ssh-rsa\n",
        host_key_types=("rsa",),
    )
    yield server
    server.stop()


def test_a_sha1_only_server_gets_a_clear_error(sha1_only_sshd: SSHServer) -> None:
    """Against an old server with only SHA-1 algorithms the error says so, and is not retried."""
    with (
        capture_logs() as logs,
        pytest.raises(TransportError) as caught,
        open_transport("sftp", sha1_only_sshd.params()),
    ):
        pass
    assert "SHA-1" in str(caught.value)
    assert caught.value.transient is False
    assert not [log for log in logs if log["event"].startswith("transient")]


def test_upload_overwrites_with_posix_rename(sshd_server: SSHServer, tmp_path: Path) -> None:
    """Upload onto an existing file uses posix-rename (atomic replace); sshd logs it."""
    target = sshd_server.upload_dir / "posix.csv"
    target.write_bytes(b"old")
    sshd_server.chown_to_user(target)
    local = tmp_path / "posix.csv"
    local.write_bytes(b"new")
    with open_transport("sftp", sshd_server.params()) as transport:
        transport.upload(local, f"{sshd_server.remote_root}/posix.csv")
    assert target.read_bytes() == b"new"
    assert not list(sshd_server.upload_dir.glob(".posix.csv.*.part"))


@pytest.fixture(scope="module")
def ctr_only_sshd() -> Iterator[SSHServer]:
    """An sshd that offers no AES-GCM (only CTR ciphers)."""
    server = start_sshd(extra_config="Ciphers aes256-ctr,aes128-ctr\n")
    yield server
    server.stop()


def test_aes_gcm_is_chosen_where_offered_and_ctr_where_not(
    sshd_server: SSHServer, ctr_only_sshd: SSHServer, tmp_path: Path
) -> None:
    """AES-GCM is preferred (measured faster, bench/transfer.py); a server without it still
    works with what it offers, upload and download alike."""
    local = tmp_path / "cipher.csv"
    local.write_bytes(b"order_id,item_id\r\n1,1001\r\n" * 1000)
    for server, cipher in ((sshd_server, "aes128-gcm@openssh.com"), (ctr_only_sshd, "aes128-ctr")):
        with open_transport("sftp", server.params()) as transport:
            transport.upload(local, f"{server.remote_root}/cipher.csv")
            transport.download(f"{server.remote_root}/cipher.csv", tmp_path / "back.csv")
            negotiated = transport._ssh.local_cipher  # type: ignore[attr-defined]
        assert negotiated == cipher
        assert (tmp_path / "back.csv").read_bytes() == local.read_bytes()
