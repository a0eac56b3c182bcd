"""An SSH session and its SFTP channel: connect, negotiate the algorithms, authenticate.

``start`` opens TCP and negotiates SSH (AES-GCM first; the host key types already known for
the server first; a clear message for servers that offer only SHA-1 algorithms, which
paramiko 5 no longer speaks). The caller checks the host key (``hostkeys``) before
``authenticate`` sends any credential. ``open_sftp`` opens the SFTP channel with the large
window the transfers need and picks the session's fast or public paths (``fastpaths``).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import paramiko

from ftpbridge.errors import AuthenticationError, TransportError
from ftpbridge.transport.base import ConnectionParams
from ftpbridge.transport.sftp.fastpaths import PublicPaths, choose_paths

DEFAULT_PORT = 22
KEEPALIVE_SECONDS = 30
# Throughput (measured on loopback against OpenSSH 9.2, see bench/transfer.py): a 16 MiB
# window, and 128 KiB packets from the server, which halve paramiko's per-packet Python
# cost. Packet size is only what we accept; the server still sends what it likes.
WINDOW_SIZE = 16 * 1024 * 1024
MAX_PACKET_SIZE = 128 * 1024
# AES-GCM first (an AEAD cipher: one pass instead of CTR plus an HMAC): uploads went from
# 163-204 to 215-227 MB/s on loopback against OpenSSH 9.2. A server without it negotiates
# the next in paramiko's list, as before.
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")

OLD_SERVER_HINT = (
    "the server offers only algorithms paramiko 5 no longer supports, most likely SHA-1 ones "
    "(diffie-hellman-group1-sha1, diffie-hellman-group14-sha1, ssh-rsa host keys, ssh-dss); "
    "ask the partner to enable SHA-2 algorithms (any OpenSSH since 7.2 has them)"
)


def start(
    host: str, port: int, timeout: float, known: dict[str, paramiko.PKey] | None
) -> paramiko.Transport:
    """Open TCP and negotiate SSH, preferring the host key types in ``known`` (the keys
    known_hosts holds for this server). Nothing is authenticated yet.

    Raises OSError / SSHException as they come (the caller translates and retries), and a
    non-transient TransportError when the server offers only algorithms we cannot use.
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    transport = paramiko.Transport(
        sock, default_window_size=WINDOW_SIZE, default_max_packet_size=MAX_PACKET_SIZE
    )
    try:
        transport.banner_timeout = timeout
        transport.auth_timeout = timeout
        transport.channel_timeout = timeout
        options = transport.get_security_options()
        gcm = [name for name in PREFERRED_CIPHERS if name in options.ciphers]
        options.ciphers = gcm + [name for name in options.ciphers if name not in gcm]
        if known:
            wanted: list[str] = []
            for key_type in known:
                wanted += ["rsa-sha2-512", "rsa-sha2-256"] if key_type == "ssh-rsa" else [key_type]
            preferred = [name for name in wanted if name in options.key_types]
            options.key_types = preferred + [
                name for name in options.key_types if name not in preferred
            ]
        transport.start_client(timeout=timeout)
    except paramiko.ssh_exception.IncompatiblePeer as error:
        transport.close()
        failure = TransportError(
            f"sftp: cannot negotiate with {host}:{port}: {error}; {OLD_SERVER_HINT}",
            hint="ask the partner to enable SHA-2 key exchange and host key algorithms",
        )
        failure.transient = False
        raise failure from error
    except BaseException:
        transport.close()
        raise
    return transport


def auth_failed(where: str, username: str, method: str, error: Exception) -> AuthenticationError:
    """The error for a refused login: who, which method, what the server accepts."""
    allowed = getattr(error, "allowed_types", None)
    extra = f" (the server accepts: {', '.join(allowed)})" if allowed else ""
    return AuthenticationError(
        f"sftp: {where} refused the {method} of user {username!r}{extra}",
        hint="check the user name and credentials; the login is not retried",
    )


def _private_key(path: Path, passphrase: str | None) -> paramiko.PKey:
    """Load the private key at ``path``, decrypted with ``passphrase`` if it is encrypted."""
    try:
        password = passphrase.encode() if passphrase else None
        # paramiko annotates the password as str but passes it to cryptography, which takes
        # bytes only (a str fails for every encrypted key): the annotation is wrong.
        return paramiko.PKey.from_path(path, password)  # type: ignore[arg-type]  # see above
    except (paramiko.PasswordRequiredException, TypeError) as error:
        # paramiko raises PasswordRequiredException for old PEM keys, and lets through the
        # TypeError of cryptography ("Key is password-protected, but password was not
        # provided") for keys in OpenSSH's own format, what ssh-keygen writes by default.
        if isinstance(error, TypeError) and "password" not in str(error).lower():
            raise
        raise AuthenticationError(
            f"sftp: the private key {str(path)!r} is protected by a passphrase, and no"
            " passphrase was given",
            hint="set private_key_passphrase (or private_key_passphrase_file, or the"
            " credential NAME-private-key-passphrase) in the partner's table",
        ) from error
    except (paramiko.SSHException, ValueError) as error:
        raise AuthenticationError(
            f"sftp: cannot load the private key {str(path)!r} "
            f"(wrong passphrase or unsupported format): {type(error).__name__}",
        ) from error
    except OSError as error:
        raise AuthenticationError(
            f"sftp: cannot read the private key {str(path)!r}: {error.strerror}"
        ) from error


def authenticate(ssh: paramiko.Transport, params: ConnectionParams, where: str) -> None:
    """Log in with the private key, then (refused, and a password is set) the password.

    Raises AuthenticationError (never retried: servers ban addresses after a few failed
    logins) naming the method the server refused and the ones it accepts.
    """
    if params.private_key is not None:
        key = _private_key(params.private_key, params.private_key_passphrase)
        try:
            ssh.auth_publickey(params.username, key)
            return
        except paramiko.AuthenticationException as error:
            if params.password is None:
                raise auth_failed(where, params.username, "key", error) from error
    if params.password is None:
        raise AuthenticationError(f"sftp: no password and no private key given for {where}")
    try:
        ssh.auth_password(params.username, params.password)
    except paramiko.AuthenticationException as error:
        raise auth_failed(where, params.username, "password", error) from error


@dataclass(frozen=True)
class Session:
    """An open SFTP channel and how to use it: the paths chosen at connect time, and the
    read and write request sizes the server accepts."""

    sftp: paramiko.SFTPClient
    paths: PublicPaths
    read_size: int
    write_size: int


def open_sftp(ssh: paramiko.Transport, timeout: float, where: str) -> Session:
    """Open the SFTP channel of an authenticated session (what ``SFTPClient.from_transport``
    does, with the paths chosen before the server sends anything: the fast receive buffer
    must be in place first)."""
    ssh.set_keepalive(KEEPALIVE_SECONDS)
    channel = ssh.open_session(window_size=WINDOW_SIZE, max_packet_size=MAX_PACKET_SIZE)
    if channel is None:
        raise TransportError(f"sftp: {where} did not open an SFTP session")
    paths = choose_paths(channel)
    paths.install_buffer(channel)
    channel.invoke_subsystem("sftp")
    sftp = paramiko.SFTPClient(channel)
    channel.settimeout(timeout)
    read_size, write_size = paths.request_sizes(sftp)
    return Session(sftp, paths, read_size, write_size)
