"""Names on a remote server: which are safe to become a local path, remote paths joined and
split, and the temporary names uploads are written under.

Names coming back from a server are checked with ``is_safe_name`` before anyone can turn
them into a local path; ``safe_entries`` leaves the others out of a listing.
"""

from __future__ import annotations

import posixpath
import secrets
import unicodedata

import structlog

from ftpbridge.durable import fitted_name
from ftpbridge.transport.base import RemoteFile

logger = structlog.get_logger()

MAX_NAME_BYTES = 255
PART_PREFIX = "."
PART_SUFFIX = ".part"


def is_safe_name(name: str) -> bool:
    """Return True if ``name`` can safely become one component of a local path.

    Refused: the empty name, ``.``, anything containing ``..``, ``/`` or ``\\``, control
    characters (NUL, newline, carriage return, DEL, C1) and Unicode line/paragraph
    separators, text that cannot be encoded as UTF-8 (undecodable bytes), and names longer
    than 255 UTF-8 bytes. Order files never need any of these.
    """
    if not name or name == "." or ".." in name or "/" in name or "\\" in name:
        return False
    for character in name:
        if unicodedata.category(character) in ("Cc", "Zl", "Zp", "Cs"):
            return False
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return len(encoded) <= MAX_NAME_BYTES


def safe_entries(entries: list[RemoteFile], *, directory: str, transport: str) -> list[RemoteFile]:
    """Return ``entries`` without those whose names fail ``is_safe_name``; log each one left out."""
    kept = []
    for entry in entries:
        if is_safe_name(entry.name):
            kept.append(entry)
        else:
            logger.warning(
                "unsafe remote name skipped",
                transport=transport,
                directory=directory,
                name=repr(entry.name)[:300],
            )
    return kept


def remote_join(directory: str, name: str) -> str:
    """Return the POSIX remote path of ``name`` inside ``directory``.

    ``remote_join("/inbox", "a.csv") == "/inbox/a.csv"``; ``remote_join("", "a.csv") ==
    "a.csv"``. Raises ValueError if ``name`` is not a safe bare name.
    """
    if not is_safe_name(name):
        raise ValueError(f"not a safe file name: {name!r}")
    if not directory:
        return name
    return directory.rstrip("/") + "/" + name if directory != "/" else "/" + name


def split_remote(path: str) -> tuple[str, str]:
    """Return (directory, name) of a POSIX remote path; directory is "" for a bare name."""
    directory, name = posixpath.split(path)
    return directory, name


def part_path(remote_path: str) -> str:
    """Return a new temporary upload path for ``remote_path``: ``<dir>/.<name>.<random>.part``
    (a name no other attempt uses, within 255 bytes)."""
    directory, name = split_remote(remote_path)
    token = secrets.token_hex(4)
    inner = fitted_name(name, limit=MAX_NAME_BYTES - len(PART_PREFIX + PART_SUFFIX) - 9)
    part_name = f"{PART_PREFIX}{inner}.{token}{PART_SUFFIX}"
    return posixpath.join(directory, part_name) if directory else part_name


def is_partial_upload(name: str) -> bool:
    """Return True if ``name`` is a temporary upload name (``.<name>.part``) to leave alone."""
    return name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX) and len(name) > 6


def same_directory(source: str, target: str) -> bool:
    """Return True if two remote paths name entries of the same directory."""
    return posixpath.normpath(split_remote(source)[0] or ".") == posixpath.normpath(
        split_remote(target)[0] or "."
    )
