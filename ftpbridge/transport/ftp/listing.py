"""How FTP servers spell a directory listing: MLSD facts, and LIST lines in Unix and
Windows/IIS formats, parsed into RemoteFile entries (names not yet checked for safety).

The transport reads listings as raw bytes split on CRLF only, so a name holding a bare
newline stays one (unsafe, skipped) name instead of turning into two made-up entries.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ftpbridge.transport.base import RemoteFile

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# re.ASCII: \d is 0-9 only (int() refuses some Unicode digits and reads others). Runs
# of digits and spaces are taken possessively (``++``, ``*+``): with plain ``+`` and ``*``
# a line that is no entry cost quadratic time in its length (16,000 digits or spaces in
# a row: about 3 s; a 64 KB line: nearly a minute), for each such line a server sends.
_UNIX_LINE = re.compile(
    r"^(?P<type>[-dlbcps])[-rwxsStTlL]{9}\S*+\s++"
    r"(?:.*?\s)?(?P<size>\d++)\s++(?P<month>[A-Za-z]{3})\s++(?P<day>\d{1,2})\s++"
    r"(?P<when>\d{1,2}:\d{2}(?::\d{2})?|\d{4})\s(?P<name>.+)\Z",
    # a newline inside a name stays in the name, which is then refused as unsafe
    re.DOTALL | re.ASCII,
)
_WINDOWS_LINE = re.compile(
    r"^(?P<month>\d{1,2})-(?P<day>\d{1,2})-(?P<year>\d{2}|\d{4})\s++"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?:\s*+(?P<ampm>[AaPp][Mm]))?\s++"
    r"(?P<size><DIR>|\d++)\s++(?P<name>.+)\Z",
    re.DOTALL | re.ASCII,
)
# More digits than any file's size has (20 digits: 100 exabytes); Python's int() refuses
# 4,300 digits or more with a ValueError, which a listing must never raise.
MAX_SIZE_DIGITS = 20


def parse_list_line(line: str, *, now: datetime | None = None) -> RemoteFile | None:
    """Parse one line of a LIST answer in Unix or Windows/IIS format.

    Given a line such as ``-rw-r--r-- 1 owner group 1234 Nov 23 10:00 name`` or
    ``11-23-26  10:00AM       1234 name``, return a RemoteFile (name not yet checked for
    safety; times taken as UTC, the year of ``Nov 23 10:00`` guessed relative to ``now``).
    Return None for lines that are not entries (``total 12``, blank, unknown formats).
    """
    # Strip only the line terminator: a name may itself end in a newline (hostile, refused).
    line = line.removesuffix("\r\n")
    match = _UNIX_LINE.match(line)
    if match:
        return _unix_entry(match, now or datetime.now(UTC))
    match = _WINDOWS_LINE.match(line)
    if match:
        return _windows_entry(match)
    return None


def _unix_entry(match: re.Match[str], now: datetime) -> RemoteFile | None:
    month = _MONTHS.get(match["month"].lower())
    if month is None:
        return None
    kind = match["type"]
    name = match["name"]
    if kind == "l" and " -> " in name:
        name = name.split(" -> ", 1)[0]
    when = match["when"]
    mtime: datetime | None
    try:
        if ":" in when:
            hour, minute = (int(part) for part in when.split(":")[:2])
            mtime = datetime(now.year, month, int(match["day"]), hour, minute, tzinfo=UTC)
            # "Mon DD HH:MM" means within the last six months: a date ahead of now is last year.
            if mtime > now + timedelta(days=2):
                mtime = mtime.replace(year=now.year - 1)
        else:
            mtime = datetime(int(when), month, int(match["day"]), tzinfo=UTC)
    except ValueError:
        mtime = None
    is_dir = kind == "d"
    return RemoteFile(
        name=name, size=None if is_dir else size_of(match["size"]), mtime=mtime, is_dir=is_dir
    )


def _windows_entry(match: re.Match[str]) -> RemoteFile | None:
    year = int(match["year"])
    if year < 100:
        year += 1900 if year >= 70 else 2000
    hour = int(match["hour"])
    ampm = (match["ampm"] or "").lower()
    if ampm == "pm" and hour != 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    try:
        mtime: datetime | None = datetime(
            year, int(match["month"]), int(match["day"]), hour, int(match["minute"]), tzinfo=UTC
        )
    except ValueError:
        mtime = None
    is_dir = match["size"] == "<DIR>"
    size = None if is_dir else size_of(match["size"])
    return RemoteFile(name=match["name"], size=size, mtime=mtime, is_dir=is_dir)


def parse_mlsd_line(line: str) -> RemoteFile | None:
    """Parse one MLSD line (``type=file;size=12;modify=20261123100000; name``).

    Return None for the ``cdir``/``pdir`` entries and for lines without facts.
    """
    facts_text, separator, name = line.removesuffix("\r\n").partition(" ")
    if not separator:
        return None
    facts = {}
    for fact in facts_text.rstrip(";").split(";"):
        key, _, value = fact.partition("=")
        facts[key.strip().lower()] = value
    kind = facts.get("type", "").lower()
    if kind in ("cdir", "pdir"):
        return None
    is_dir = kind == "dir"
    size = None if is_dir else size_of(facts.get("size"))
    return RemoteFile(
        name=name, size=size, mtime=parse_ftp_time(facts.get("modify")), is_dir=is_dir
    )


def size_of(text: str | None) -> int | None:
    """A size as a listing writes it → bytes; None (unknown: the download's own bound,
    max_file_bytes, still holds) for anything but 1 to 20 of the digits 0-9. Never raises:
    ``"²".isdigit()`` is True and ``int("²")`` a ValueError, which used to end the poll."""
    if text is None or not _SIZE.fullmatch(text):
        return None
    return int(text)


_SIZE = re.compile(f"[0-9]{{1,{MAX_SIZE_DIGITS}}}")


def parse_ftp_time(text: str | None) -> datetime | None:
    """Parse an MLSD ``modify`` fact or an MDTM answer (``YYYYMMDDHHMMSS[.sss]``, UTC)."""
    if not text:
        return None
    digits = text.strip().split(".")[0]
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
