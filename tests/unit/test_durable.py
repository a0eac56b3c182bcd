"""ftpbridge.durable: temporary files beside their target, renamed whole onto it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ftpbridge.durable import replace_durably, sha256_of, temporary_beside


def test_the_temporary_file_is_beside_the_target_and_renamed_whole(tmp_path: Path) -> None:
    """The temporary file lives in the target's folder (created if missing), hidden and
    ending in .part; once renamed, the target holds the bytes and nothing else is left."""
    target = tmp_path / "new" / "orders.csv"
    with temporary_beside(target) as temporary:
        assert temporary.parent == target.parent
        assert temporary.name.startswith(".orders.csv.") and temporary.name.endswith(".part")
        temporary.write_bytes(b"a,b\r\n")
        replace_durably(temporary, target)
    assert target.read_bytes() == b"a,b\r\n"
    assert sorted(path.name for path in target.parent.iterdir()) == ["orders.csv"]


def test_a_failure_leaves_the_target_as_it_was_and_no_temporary(tmp_path: Path) -> None:
    """An exception in the block removes the temporary file; the old target is untouched."""
    target = tmp_path / "orders.csv"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), temporary_beside(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("cut")
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["orders.csv"]


def test_a_temporary_never_renamed_is_removed(tmp_path: Path) -> None:
    """A block that ends without renaming (a dry run, say) leaves nothing behind."""
    with temporary_beside(tmp_path / "report.csv") as temporary:
        temporary.write_bytes(b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_final_name_at_the_length_limit_still_gets_a_temporary(tmp_path: Path) -> None:
    """A 255-byte name of multibyte characters: the temporary's name is cut in bytes, so
    it stays within the file system's limit (NAME_MAX) and the rename works."""
    name = "é" * 123 + ".csv"  # 250 bytes in UTF-8
    assert len(name.encode()) <= os.pathconf(tmp_path, "PC_NAME_MAX")
    target = tmp_path / name
    with temporary_beside(target) as temporary:
        assert len(temporary.name.encode()) <= os.pathconf(tmp_path, "PC_NAME_MAX")
        temporary.write_bytes(b"x")
        os.replace(temporary, target)
    assert target.read_bytes() == b"x"


def test_sha256_of_reads_the_whole_file(tmp_path: Path) -> None:
    """The digest and size of a file larger than one read block."""
    path = tmp_path / "big.bin"
    path.write_bytes(b"\x00" * (3 << 20))
    digest, size = sha256_of(path)
    assert size == 3 << 20
    assert digest == "bbd05cf6097ac9b1f89ea29d2542c1b7b67ee46848393895f5a9e43fa1f621e5"
