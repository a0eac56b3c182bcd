"""Host keys: whom we talk to. Never auto-accepted.

A server's key must already be in the partner's known_hosts file (``params.known_hosts``),
keyed as OpenSSH keys it (``host``, or ``[host]:port`` off port 22). An unknown or changed
key is refused with its fingerprint as ``ssh-keygen -l`` prints it and what to do.
``fetch_host_key``, ``trust_host_key`` and ``replace_host_key`` serve ``ftpbridge check
--trust-host-key [SHA256:...] [--replace-host-key]``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import paramiko
import structlog

from ftpbridge.durable import temporary_beside
from ftpbridge.errors import FtpbridgeError, HostKeyError, TransportError
from ftpbridge.transport.sftp.session import DEFAULT_PORT, start

logger = structlog.get_logger()

TRUST_HINT = "if the key is right, run: ftpbridge check --partner NAME --trust-host-key"


@dataclass(frozen=True)
class HostKeyInfo:
    """An SSH server's host key, as shown to a person deciding whether to trust it."""

    key_type: str  # e.g. "ssh-ed25519"
    key_base64: str
    fingerprint: str  # "SHA256:..." as OpenSSH prints it
    host_entry: str  # "host" or "[host]:port" as known_hosts keys it

    @property
    def known_hosts_line(self) -> str:
        """Return the line ``trust_host_key`` appends to known_hosts."""
        return f"{self.host_entry} {self.key_type} {self.key_base64}"


def host_entry(host: str, port: int | None) -> str:
    """Return how known_hosts names a server: ``host`` on port 22, else ``[host]:port``."""
    if port in (None, DEFAULT_PORT):
        return host
    return f"[{host}]:{port}"


def fingerprint(key_blob: bytes) -> str:
    """Return OpenSSH's fingerprint of a public key blob: ``SHA256:`` + unpadded base64."""
    digest = hashlib.sha256(key_blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def key_info(key: paramiko.PKey, entry: str) -> HostKeyInfo:
    """Describe ``key`` as the server ``entry`` presents it."""
    blob = key.asbytes()
    return HostKeyInfo(
        key_type=key.get_name(),
        key_base64=base64.b64encode(blob).decode("ascii"),
        fingerprint=fingerprint(blob),
        host_entry=entry,
    )


def known_keys(known_hosts: Path | None, host: str, port: int) -> dict[str, paramiko.PKey] | None:
    """The keys ``known_hosts`` holds for the server, by key type; None when it has none
    (or there is no such file). Raises a non-transient TransportError for a file that
    cannot be read."""
    if known_hosts is None or not known_hosts.exists():
        return None
    host_keys = paramiko.HostKeys()
    try:
        host_keys.load(str(known_hosts))
    except (OSError, paramiko.SSHException) as error:
        failure = TransportError(
            f"sftp: cannot read known_hosts file {str(known_hosts)!r}: {error}"
        )
        failure.transient = False
        raise failure from error
    entry = host_keys.lookup(host_entry(host, port))
    return dict(entry) if entry is not None else None


def check_host_key(
    key: paramiko.PKey,
    known: dict[str, paramiko.PKey] | None,
    *,
    entry: str,
    known_hosts: Path | None,
) -> None:
    """Refuse (HostKeyError) a ``key`` that is not the one known for the server ``entry``:
    unknown (how to trust it) or CHANGED (a warning, and how to replace it)."""
    info = key_info(key, entry)
    details: dict[str, str] = {
        "fingerprint": info.fingerprint,
        "key_type": info.key_type,
        "host_entry": entry,
        "key_line": info.known_hosts_line,
    }
    where = str(known_hosts) if known_hosts else "(no known_hosts file)"
    if not known:
        raise HostKeyError(
            f"sftp: the host key of {entry} is unknown: {info.key_type} {info.fingerprint} "
            f"is not in {where}",
            hint=TRUST_HINT,
            **details,
        )
    if known.get(key.get_name()) != key:
        raise HostKeyError(
            f"sftp: the host key of {entry} has CHANGED: the server now presents "
            f"{info.key_type} {info.fingerprint}, which does not match {where}; this may be "
            "an attack (someone in the middle) or a reinstalled server",
            hint=f"confirm {info.fingerprint} with the partner, then run: ftpbridge check"
            f" --partner NAME --trust-host-key {info.fingerprint} --replace-host-key",
            **details,
        )


def fetch_host_key(host: str, port: int = DEFAULT_PORT, timeout: float = 30.0) -> HostKeyInfo:
    """Connect to an SSH server and return its host key, without authenticating.

    Raises TransportError if the server cannot be reached or negotiated with.
    """
    try:
        transport = start(host, port, timeout, None)
    except FtpbridgeError:
        raise
    except (OSError, EOFError, paramiko.SSHException) as error:
        raise TransportError(
            f"sftp: cannot fetch the host key of {host}:{port}: {error}",
            hint="check host and port, and that this machine may reach the server (firewall)",
        ) from error
    try:
        return key_info(transport.get_remote_server_key(), host_entry(host, port))
    finally:
        transport.close()


def replace_host_key(known_hosts_path: Path, info: HostKeyInfo) -> int:
    """Rewrite ``known_hosts_path`` without the lines that name ``info``'s server (plain
    or hashed), then with ``info``'s line: the one key trusted for that server from now
    on. Written whole or not at all, mode 0600. Returns how many lines were removed."""
    kept: list[str] = []
    removed = 0
    for line in known_hosts_path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if (
            fields
            and not line.lstrip().startswith(("#", "@"))
            and _names(fields[0], info.host_entry)
        ):
            removed += 1
            continue
        kept.append(line)
    kept.append(info.known_hosts_line)
    with temporary_beside(known_hosts_path) as temporary:
        temporary.write_text("\n".join(kept) + "\n", encoding="utf-8")
        temporary.chmod(0o600)
        os.replace(temporary, known_hosts_path)
    logger.info(
        "host key replaced", host=info.host_entry, fingerprint=info.fingerprint, removed=removed
    )
    return removed


def _names(field: str, entry: str) -> bool:
    """Whether the host field of a known_hosts line names ``entry`` (hashed names too)."""
    for name in field.split(","):
        if name.startswith("|1|"):
            parts = name.split("|")
            if len(parts) == 4 and paramiko.HostKeys.hash_host(entry, parts[2]) == name:
                return True
        elif name == entry:
            return True
    return False


def trust_host_key(known_hosts_path: Path, info: HostKeyInfo) -> None:
    """Append ``info`` as one line to ``known_hosts_path`` (created with mode 0600)."""
    known_hosts_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(known_hosts_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        needs_newline = handle.tell() > 0 and not known_hosts_path.read_bytes().endswith(b"\n")
        handle.write(("\n" if needs_newline else "") + info.known_hosts_line + "\n")
    logger.info("host key trusted", host=info.host_entry, fingerprint=info.fingerprint)
