"""Local files that appear whole or not at all, and their sha256.

A file is written under a temporary name in the folder of its final name, then renamed
onto it: a rename within one folder is atomic, so a reader (or a crash) never sees half a
file under the final name. ``temporary_beside`` is the one place that makes such a
temporary file; exports, import reports, the transports' downloads and the poll's local
archive all use it. ``replace_durably`` is the rename that also survives a power cut;
``reserve_path`` picks a name beside a file that must not be overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

HASH_BLOCK = 1 << 20
NAME_MAX = 255  # bytes of one path component, on Linux file systems and most servers
# The temporary name is ".<name>.<random>.part": keep it under NAME_MAX (255 bytes) even
# for a final name that is itself near the limit.
_NAME_BYTES_KEPT = 200
TEMPORARY_SUFFIX = ".part"


def sha256_of(path: Path) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def fitted_name(name: str, suffix: str = "", limit: int = NAME_MAX) -> str:
    """``name + suffix``, or, when that is longer than ``limit`` bytes (UTF-8), a shorter
    name made from it: the start of the name, ``~`` and 8 hex digits of its sha256, its
    extension, then ``suffix``. Different names give different results; the same name
    always the same one. Any name a server can hold can so be given a local name, a
    report name, an archive name."""
    whole = name + suffix
    encoded = whole.encode("utf-8", "surrogateescape")
    if len(encoded) <= limit:
        return whole
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension.encode("utf-8", "surrogateescape")) > 16:
        stem, dot, extension = name, "", ""
    tail = f"~{digest}{dot}{extension}{suffix}".encode("utf-8", "surrogateescape")
    room = max(0, limit - len(tail))
    start = stem.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    return start + tail.decode("utf-8", "surrogateescape")


@contextlib.contextmanager
def temporary_beside(target: Path) -> Iterator[Path]:
    """Yield the path of a new, empty file in ``target``'s folder (created if missing),
    named ``.<target name>.<random>.part``.

    The caller writes it and renames it onto ``target`` when it is ready (``os.replace``,
    or ``replace_durably``), at the moment of its choosing (inside a transaction, say).
    Whatever is still under the temporary name when the block ends (it raised, or never
    renamed) is removed; ``target`` is then left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    name = target.name.encode("utf-8", "surrogateescape")[:_NAME_BYTES_KEPT]
    descriptor, temporary = tempfile.mkstemp(
        prefix="." + name.decode("utf-8", "ignore") + ".",
        suffix=TEMPORARY_SUFFIX,
        dir=target.parent,
    )
    os.close(descriptor)
    path = Path(temporary)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


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


def reserve_path(target: Path) -> tuple[Path, Path | None]:
    """A path for a new file at ``target`` that overwrites nothing: ``target`` itself when
    free, else the first free ``STEM-2.EXT``, ``STEM-3.EXT`` ... beside it. The path is
    created empty (O_EXCL: two exports at once never pick the same one); the caller
    renames its file onto it or removes it. Returns (the path, the file kept or None)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    stem, suffix = target.stem, target.suffix
    candidate, number = target, 1
    while True:
        try:
            descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            number += 1
            candidate = target.with_name(f"{stem}-{number}{suffix}")
            continue
        os.close(descriptor)
        return candidate, (target if candidate != target else None)
