"""Transports: move bytes to and from a partner's server (FTP, FTPS, SFTP, a local directory).

``open_transport(kind, params)`` builds one from plain values; use it as a context manager.
The protocol and its contract are in ``base.py``; safe names and remote paths in ``names.py``.
"""

from __future__ import annotations

from ftpbridge.errors import UsageError
from ftpbridge.transport.base import (
    ConnectionParams,
    CrossDirectoryRenameError,
    RemoteFile,
    Transport,
    move,
)
from ftpbridge.transport.names import is_partial_upload, is_safe_name, remote_join

KINDS = ("ftp", "ftps", "sftp", "local")

__all__ = [
    "KINDS",
    "ConnectionParams",
    "CrossDirectoryRenameError",
    "RemoteFile",
    "Transport",
    "is_partial_upload",
    "is_safe_name",
    "move",
    "open_transport",
    "remote_join",
]


def open_transport(kind: str, params: ConnectionParams) -> Transport:
    """Return an unconnected transport of ``kind`` ("ftp", "ftps", "sftp" or "local").

    Nothing touches the network until the transport is entered (``with ... as t``).
    Raises UsageError for an unknown kind.
    """
    # Imported here so that `local` users never import paramiko or ssl machinery.
    if kind in ("ftp", "ftps"):
        from ftpbridge.transport.ftp import FTPTransport

        return FTPTransport(params, tls=kind == "ftps")
    if kind == "sftp":
        from ftpbridge.transport.sftp import SFTPTransport

        return SFTPTransport(params)
    if kind == "local":
        from ftpbridge.transport.local import LocalTransport

        return LocalTransport(params)
    raise UsageError(f"unknown transport kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
