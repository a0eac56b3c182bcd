"""Small helpers shared by export and import: hashing, atomic file writes, CSV dialect."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

HASH_BLOCK = 1 << 20


def sha256_of(path: Path) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """Write ``target`` through a temporary file in the same folder.

    Yields (binary handle, temporary path). The caller renames the temporary path onto the
    target when it is ready (so it can do that at the right moment of a transaction); if
    the block raises, or the caller never renamed it, the temporary file is removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    path = Path(temporary)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle, path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def replace_durably(source: Path, target: Path) -> None:
    """Rename ``source`` onto ``target`` and make it durable (fsync file and folder)."""
    with source.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(source, target)
    with contextlib.suppress(OSError):
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
