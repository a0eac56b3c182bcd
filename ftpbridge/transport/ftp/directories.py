"""Reading an FTP directory: MLSD when the server announces MLST in FEAT, else LIST (Unix
and Windows/IIS formats, parsed in ``listing``), else NLST + SIZE + MDTM. Listings are read
as raw bytes, as a stream bounded in entries, bytes, line length and rate, and split on
CRLF only, so a file name holding a bare newline stays one (unsafe, skipped) name instead
of turning into two made-up entries.
"""

from __future__ import annotations

import builtins
import ftplib
from datetime import UTC, datetime

import structlog

from ftpbridge.errors import ListingTooLongError
from ftpbridge.transport.base import RemoteFile
from ftpbridge.transport.bounds import TransferWatch
from ftpbridge.transport.ftp.connection import FTPConnection
from ftpbridge.transport.ftp.listing import parse_list_line, parse_mlsd_line
from ftpbridge.transport.names import safe_entries

logger = structlog.get_logger()

# No line of a listing is this long (a 255-byte name and its facts take a few hundred).
MAX_LISTING_LINE = 64 * 1024

_UNSUPPORTED_CODES = ("500", "501", "502", "504")


class FTPDirectories(FTPConnection):
    """An FTP connection that lists directories (see ``FTPConnection``)."""

    def list(self, directory: str) -> list[RemoteFile]:
        """Return the safe entries of ``directory`` (MLSD, else LIST, else NLST)."""
        entries: list[RemoteFile] = self._run(
            "list", directory, lambda ftp: self._list(ftp, directory)
        )
        return safe_entries(entries, directory=directory, transport=self.describe())

    def _list(self, ftp: ftplib.FTP, directory: str) -> builtins.list[RemoteFile]:
        if self._has_mlst and not self._mlsd_refused:
            try:
                lines = self._lines(ftp, f"MLSD {directory}")
            except ftplib.error_perm as error:
                if str(error)[:3] not in _UNSUPPORTED_CODES:
                    raise
                self._mlsd_refused = True
            else:
                return [entry for entry in map(parse_mlsd_line, lines) if entry is not None]
        try:
            lines = self._lines(ftp, f"LIST {directory}")
        except ftplib.error_perm as error:
            if str(error)[:3] not in _UNSUPPORTED_CODES:
                raise
            return self._list_by_names(ftp, directory)
        now = datetime.now(UTC)
        entries = [entry for line in lines if (entry := parse_list_line(line, now=now))]
        meaningful = [line for line in lines if not line.lower().startswith("total ")]
        if meaningful and not entries:
            logger.info("LIST format not understood, listing by NLST", server=self.describe())
            return self._list_by_names(ftp, directory)
        return entries

    def _list_by_names(self, ftp: ftplib.FTP, directory: str) -> builtins.list[RemoteFile]:
        try:
            names = self._lines(ftp, f"NLST {directory}")
        except (ftplib.error_perm, ftplib.error_temp) as error:
            # Many servers answer NLST on an empty directory with 450/550.
            if str(error)[:3] in ("450", "550") and self._is_directory(ftp, directory):
                return []
            raise
        prefix = directory.rstrip("/") + "/"
        entries = []
        for listed in names:
            name = listed[len(prefix) :] if listed.startswith(prefix) else listed
            path = prefix + name
            size = self._size(ftp, path)
            if size is None and self._is_directory(ftp, path):
                entries.append(RemoteFile(name=name, size=None, mtime=None, is_dir=True))
                continue
            entries.append(RemoteFile(name=name, size=size, mtime=self._mdtm(ftp, path)))
        return entries

    def _lines(self, ftp: ftplib.FTP, command: str) -> builtins.list[str]:
        """Run a listing command; return its lines split on CRLF only (on bare LF when
        there is no CRLF), read as a stream: ListingTooLongError past
        ``max_listing_entries`` lines or ``max_listing_bytes`` bytes, TooSlowError when
        the answer trickles."""
        params = self._params
        watch = TransferWatch(
            f"{self.kind}: the listing {command!r} from {self.describe()}",
            min_rate=params.min_rate_bytes,
            grace=params.timeout,
        )
        lines: builtins.list[bytes] = []
        pending = b""
        separator: bytes | None = None
        ftp.voidcmd("TYPE A")

        def take(chunk: bytes) -> None:
            nonlocal pending, separator
            watch.add(len(chunk))
            if watch.received > params.max_listing_bytes:
                raise self._too_long(command, f"more than {params.max_listing_bytes:,} bytes")
            pending += chunk
            if separator is None:
                # CRLF as soon as one is seen (a bare LF before it may be inside a name);
                # bare LF once a line's worth of them came without any CRLF.
                if b"\r\n" in pending:
                    separator = b"\r\n"
                elif b"\n" in pending and len(pending) > MAX_LISTING_LINE:
                    separator = b"\n"
            if separator is not None:
                *complete, pending = pending.split(separator)
                lines.extend(line for line in complete if line)
            if len(pending) > MAX_LISTING_LINE:
                raise self._too_long(command, f"a line longer than {MAX_LISTING_LINE:,} bytes")
            if len(lines) > params.max_listing_entries:
                raise self._too_long(command, f"more than {params.max_listing_entries:,} entries")

        self._receive(ftp, command, take)
        if separator is None:
            separator = b"\r\n" if b"\r\n" in pending else b"\n"
        lines.extend(line for line in pending.split(separator) if line)
        if len(lines) > params.max_listing_entries:
            raise self._too_long(command, f"more than {params.max_listing_entries:,} entries")
        return [line.decode(ftp.encoding, "surrogateescape") for line in lines]

    def _too_long(self, command: str, what: str) -> ListingTooLongError:
        return ListingTooLongError(
            f"{self.kind}: the answer to {command!r} from {self.describe()} holds {what}"
            " (max_listing_entries); nothing was taken from that folder",
            hint="ask the partner to clear the folder (move old files away), or raise"
            " max_listing_entries in the partner's table",
        )
