"""SFTP with paramiko, in four rooms.

- ``hostkeys``: whom we talk to (known_hosts, fingerprints, fetch and trust for
  ``ftpbridge check --trust-host-key``); never auto-accepted.
- ``session``: connect, algorithms, authentication (keys, passphrases), the clear message
  for servers that speak only SHA-1 algorithms, the SFTP channel.
- ``fastpaths`` (and ``receive_buffer``): pipelined reads and writes, larger requests, the
  faster receive buffer, listings of undecodable names: paramiko internals behind one
  capability check at connect time, with paramiko's public API as the fallback.
- ``transport``: :class:`SFTPTransport`, the Transport protocol over all of it.
"""

from ftpbridge.transport.sftp.hostkeys import (
    HostKeyInfo,
    fetch_host_key,
    fingerprint,
    trust_host_key,
)
from ftpbridge.transport.sftp.transport import SFTPTransport

__all__ = ["HostKeyInfo", "SFTPTransport", "fetch_host_key", "fingerprint", "trust_host_key"]
