"""Parsing of FTP directory listings (LIST in Unix and Windows/IIS formats, MLSD) and the
file-name safety rules every transport applies to what a server returns."""

from __future__ import annotations

import posixpath
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftpbridge.transport import is_partial_upload, is_safe_name, remote_join
from ftpbridge.transport.ftp import parse_list_line, parse_mlsd_line
from ftpbridge.transport.names import part_path, same_directory

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_unix_line_with_time_is_this_year() -> None:
    """'Nov 23 10:00' is read as this year's date, in UTC, with size and name."""
    entry = parse_list_line("-rw-r--r-- 1 owner group 1234 Nov 23 10:00 orders.csv", now=NOW)
    assert entry is not None
    assert (entry.name, entry.size, entry.is_dir) == ("orders.csv", 1234, False)
    assert entry.mtime == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_unix_line_with_time_in_the_future_is_last_year() -> None:
    """'Dec 24 10:00' seen in November is last December (LIST shows times for < 6 months)."""
    entry = parse_list_line("-rw-r--r-- 1 owner group 5 Dec 24 10:00 old.csv", now=NOW)
    assert entry is not None and entry.mtime == datetime(2025, 12, 24, 10, 0, tzinfo=UTC)


def test_unix_line_with_year() -> None:
    """'Nov 23  2025' (two spaces, a year) gives that date at midnight UTC."""
    entry = parse_list_line("-rw-r--r--   1 ftp      ftp        99 Nov 23  2025 a b.csv", now=NOW)
    assert entry is not None
    assert (entry.name, entry.size) == ("a b.csv", 99)
    assert entry.mtime == datetime(2025, 11, 23, tzinfo=UTC)


def test_unix_directory_symlink_and_missing_group() -> None:
    """Directories have no size; symlinks drop '-> target'; a missing group column is fine."""
    directory = parse_list_line("drwxr-xr-x 2 owner group 4096 Nov  3 09:15 archive", now=NOW)
    assert directory is not None and directory.is_dir and directory.size is None
    assert directory.name == "archive"
    link = parse_list_line("lrwxrwxrwx 1 owner group 9 Nov 3 09:15 latest -> a.csv", now=NOW)
    assert link is not None and link.name == "latest" and not link.is_dir
    no_group = parse_list_line("-rw-r--r-- 1 owner 77 Jan 5 2026 x.csv", now=NOW)
    assert no_group is not None and (no_group.name, no_group.size) == ("x.csv", 77)


def test_windows_iis_lines() -> None:
    """IIS lines: MM-DD-YY, 12-hour clock, <DIR> for directories."""
    entry = parse_list_line("11-23-26  10:00AM       1234 orders.csv")
    assert entry is not None
    assert (entry.name, entry.size, entry.is_dir) == ("orders.csv", 1234, False)
    assert entry.mtime == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    directory = parse_list_line("11-23-26  03:30PM       <DIR>          archive")
    assert directory is not None and directory.is_dir and directory.size is None
    assert directory.mtime == datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    midnight = parse_list_line("01-02-2026  12:05AM  10 night.csv")
    assert midnight is not None and midnight.mtime == datetime(2026, 1, 2, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "line", ["total 12", "", "garbage line", "-rw-r--r-- 1 a b 5 Foo 1 10:00 x"]
)
def test_lines_that_are_not_entries(line: str) -> None:
    """Summary lines, blank lines and unknown formats give None, never a made-up entry."""
    assert parse_list_line(line, now=NOW) is None


def test_hostile_names_survive_parsing_and_are_then_refused() -> None:
    """The parser keeps a hostile name whole (newline included) so is_safe_name can refuse it."""
    for name in ("../x", "evil\nname.csv", "a" * 300, "..", "c:\\windows"):
        entry = parse_list_line(f"-rw-r--r-- 1 o g 5 Nov 23 10:00 {name}", now=NOW)
        assert entry is not None and entry.name == name
        assert not is_safe_name(entry.name)
    windows = parse_list_line("11-23-26  10:00AM  5 ..\\..\\boot.ini")
    assert windows is not None and not is_safe_name(windows.name)


def test_mlsd_lines() -> None:
    """MLSD facts give type, size and UTC modify time; cdir/pdir entries are dropped."""
    entry = parse_mlsd_line("type=file;size=42;modify=20261123100000.123; orders 1.csv")
    assert entry is not None
    assert (entry.name, entry.size, entry.is_dir) == ("orders 1.csv", 42, False)
    assert entry.mtime == datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
    directory = parse_mlsd_line("Type=dir;Modify=20260101000000;UNIX.mode=0755; archive")
    assert directory is not None and directory.is_dir and directory.size is None
    assert parse_mlsd_line("type=cdir;modify=20260101000000; .") is None
    assert parse_mlsd_line("type=pdir;modify=20260101000000; ..") is None
    assert parse_mlsd_line("no-facts-line") is None


@pytest.mark.parametrize("size", ["²", "٣", "１", "-1", "1.5", "", "0x10", "9" * 21, "9" * 5000])
def test_an_mlsd_size_that_is_no_number_is_unknown_never_an_error(size: str) -> None:
    """ "²" passes str.isdigit() and int() refuses it; 5,000 digits int() refuses too: the
    entry is kept with its size unknown (the download's own limit still holds)."""
    entry = parse_mlsd_line(f"type=file;size={size};modify=20261123100000; a_updated_x.csv")
    assert entry is not None
    assert (entry.name, entry.size, entry.is_dir) == ("a_updated_x.csv", None, False)
    assert entry.mtime == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert parse_mlsd_line(f"type=file;size={'9' * 20}; big.csv").size == 10**20 - 1  # type: ignore[union-attr]


def test_a_list_size_too_long_to_be_one_is_unknown_never_an_error() -> None:
    """Unix and IIS LIST lines with a 5,000-digit size: the entry, size unknown. A size in
    another script's digits is no Unix or IIS line at all (None: the LIST is then read by
    NLST when no line is understood)."""
    digits = "9" * 5000
    unix = parse_list_line(f"-rw-r--r-- 1 owner group {digits} Nov 23 10:00 a.csv", now=NOW)
    assert unix is not None and (unix.name, unix.size) == ("a.csv", None)
    iis = parse_list_line(f"11-23-26  10:00AM       {digits} a.csv")
    assert iis is not None and (iis.name, iis.size) == ("a.csv", None)
    assert parse_list_line("-rw-r--r-- 1 owner group ٣ Nov 23 10:00 a.csv", now=NOW) is None
    assert parse_list_line("11-23-26  10:00AM       ٣ a.csv") is None


LISTING_TEXT = st.text(alphabet=st.sampled_from(list("-drwx 0123456789:²٣AaPpMmNov;=\r\n.")))


@given(LISTING_TEXT, LISTING_TEXT)
def test_no_listing_line_raises(facts: str, rest: str) -> None:
    """Whatever a server writes in a listing's line, parsing it returns an entry or None."""
    parse_mlsd_line(f"type=file;size={facts}; {rest}")
    parse_list_line(f"-rw-r--r-- 1 o g {facts} Nov 23 10:00 {rest}", now=NOW)
    parse_list_line(f"11-23-26  10:00AM {facts} {rest}")
    parse_list_line(facts + rest, now=NOW)


@pytest.mark.parametrize(
    "name",
    ["orders.csv", "Orders 2026-11-23.CSV", ".hidden.part", "é" * 127, "x" * 255, "a.b.c"],
)
def test_safe_names(name: str) -> None:
    """Ordinary names, including non-ASCII up to 255 UTF-8 bytes, are safe."""
    assert is_safe_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../x",
        "a/b",
        "/etc/passwd",
        "a\\b",
        "x..y",
        "new\nline",
        "cr\rhere",
        "nul\x00byte",
        "del\x7f",
        "c1\x85",
        "line\u2028sep",
        "x" * 256,
        "é" * 128,
        "bad\udcffbytes",
    ],
)
def test_unsafe_names(name: str) -> None:
    """Separators, '..', control characters, undecodable bytes and > 255 bytes are refused."""
    assert not is_safe_name(name)


@given(st.text(min_size=1, max_size=300))
def test_a_safe_name_always_stays_inside_its_directory(name: str) -> None:
    """Whatever the server sends, a name that passes is_safe_name is one path component."""
    if is_safe_name(name):
        base = Path("/srv/inbox")
        joined = base / name
        assert joined.parent == base
        assert joined.name == name
        assert "\n" not in name


def test_remote_join_and_part_path() -> None:
    """remote_join() builds POSIX paths; part_path() is '.<name>.<random>.part' in the same
    directory, a new one each time (two uploads of one name never share a temporary file),
    within 255 bytes for the longest name."""
    assert remote_join("/inbox", "a.csv") == "/inbox/a.csv"
    assert remote_join("/inbox/", "a.csv") == "/inbox/a.csv"
    assert remote_join("/", "a.csv") == "/a.csv"
    assert remote_join("", "a.csv") == "a.csv"
    with pytest.raises(ValueError, match="safe"):
        remote_join("/inbox", "../etc/passwd")
    assert re.fullmatch(r"/inbox/\.a\.csv\.[0-9a-f]{8}\.part", part_path("/inbox/a.csv"))
    assert re.fullmatch(r"\.a\.csv\.[0-9a-f]{8}\.part", part_path("a.csv"))
    assert part_path("a.csv") != part_path("a.csv")
    longest = part_path("/inbox/" + "é" * 127 + ".c")
    assert len(posixpath.basename(longest).encode()) <= 255
    assert is_partial_upload(posixpath.basename(longest))
    assert same_directory("/inbox/a.csv", "/inbox/b.csv")
    assert not same_directory("/inbox/a.csv", "/inbox/archive/a.csv")
