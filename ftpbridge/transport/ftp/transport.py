"""The FTP transport: FTP, or FTPS with explicit TLS, over ftplib.

Listing uses MLSD when the server announces MLST in FEAT, else LIST (Unix and
Windows/IIS formats, parsed in ``listing``), else NLST + SIZE + MDTM. Listings are read as
raw bytes and split on CRLF only, so a file name holding a bare newline stays one (unsafe,
skipped) name instead of turning into two made-up entries. FTPS data connections resume
the control connection's TLS session (``tls``).
"""

from __future__ import annotations

import builtins
import ftplib
import os
import posixpath
import socket
import ssl
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import structlog

from ftpbridge import deadlines
from ftpbridge.durable import temporary_beside
from ftpbridge.errors import (
    AuthenticationError,
    FtpbridgeError,
    ListingTooLongError,
    RemoteNotFoundError,
    RemotePermissionError,
    TargetExistsError,
    TLSVerificationError,
    TooLargeError,
    TransportError,
)
from ftpbridge.transport.base import (
    ATTEMPT_TIMEOUTS,
    ConnectionParams,
    CrossDirectoryRenameError,
    RemoteFile,
)
from ftpbridge.transport.bounds import LocalSink, TransferWatch
from ftpbridge.transport.ftp.listing import parse_ftp_time, parse_list_line, parse_mlsd_line
from ftpbridge.transport.ftp.tls import ReusingFTP_TLS
from ftpbridge.transport.names import part_path, safe_entries, same_directory
from ftpbridge.transport.progress import upload_source
from ftpbridge.transport.retries import retrying

logger = structlog.get_logger()

# The clear-text warning, given once per server and process (a service polls every few
# minutes: the same warning on every connection would bury everything else).
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _warn_once(message: str, server: str) -> None:
    with _warned_lock:
        if (message, server) in _warned:
            return
        _warned.add((message, server))
    logger.warning(message, server=server, once="logged once per server while this runs")


T = TypeVar("T")

# Large blocks: ftplib's default of 8 KiB costs a third of the throughput on fast links.
BLOCK_SIZE = 256 * 1024
DEFAULT_PORT = 21
# No line of a listing is this long (a 255-byte name and its facts take a few hundred).
MAX_LISTING_LINE = 64 * 1024

_NOT_FOUND_WORDS = (
    "no such",
    "not found",
    "not exist",
    "doesn't exist",
    "cannot find",
    "can't find",
)
_UNSUPPORTED_CODES = ("500", "501", "502", "504")


class FTPTransport:
    """FTP (``kind="ftp"``) or FTPS with explicit TLS (``kind="ftps"``) via ftplib."""

    def __init__(self, params: ConnectionParams, *, tls: bool) -> None:
        self.kind = "ftps" if tls else "ftp"
        self._params = params
        self._tls = tls
        self._ftp: ftplib.FTP | None = None
        self._has_mlst = False
        self._mlsd_refused = False
        self._home = "/"

    def describe(self) -> str:
        """Return ``ftp://user@host:port`` (or ``ftps://``); never the password."""
        port = self._params.port or DEFAULT_PORT
        return f"{self.kind}://{self._params.username}@{self._params.host}:{port}"

    # --- connection

    def __enter__(self) -> Self:
        """Connect, secure (FTPS) and log in; transient failures are retried."""
        self._run("connect to", self.describe(), lambda _ftp: None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Say QUIT and close; never raises."""
        ftp, self._ftp = self._ftp, None
        if ftp is None:
            return
        try:
            ftp.quit()
        except (OSError, EOFError, ftplib.Error):
            ftp.close()

    def _drop(self) -> None:
        """Forget a connection in an unknown state so that the next attempt reconnects."""
        ftp, self._ftp = self._ftp, None
        if ftp is not None:
            ftp.close()

    def _tls_context(self) -> ssl.SSLContext:
        cafile = str(self._params.ca_file) if self._params.ca_file else None
        context = ssl.create_default_context(cafile=cafile)
        if not self._params.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connection(self) -> ftplib.FTP:
        if self._ftp is not None:
            return self._ftp
        params = self._params
        if self._tls:
            if not params.tls_verify:
                logger.warning(
                    "TLS certificate verification is off: the server is not authenticated",
                    server=self.describe(),
                )
            ftp: ftplib.FTP = ReusingFTP_TLS(context=self._tls_context(), timeout=params.timeout)
        else:
            _warn_once(
                "plain FTP: the password and the files travel in clear text", self.describe()
            )
            # Plain FTP is a kind partners still ask for; the warning above says the cost.
            ftp = ftplib.FTP(timeout=params.timeout)  # noqa: S321
        ftp.encoding = "utf-8"
        try:
            ftp.connect(params.host, params.port or DEFAULT_PORT, timeout=params.timeout)
            if ftp.sock is not None:
                ftp.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.auth()
            ftp.login(params.username, params.password or "")
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.set_pasv(params.passive)
            self._has_mlst = self._announces_mlst(ftp)
            self._home = ftp.pwd() or "/"
        except BaseException:
            ftp.close()
            raise
        self._ftp = ftp
        return ftp

    @staticmethod
    def _announces_mlst(ftp: ftplib.FTP) -> bool:
        try:
            answer = ftp.sendcmd("FEAT")
        except ftplib.error_perm:
            return False
        return any(line.strip().upper().startswith("MLST") for line in answer.splitlines()[1:])

    def _run(self, action: str, path: str, operation: Any) -> Any:
        """Run ``operation(ftp)`` on a live connection, translating and retrying errors."""

        def attempt() -> Any:
            deadlines.renew(ATTEMPT_TIMEOUTS * self._params.timeout)  # progress: a new try
            try:
                return operation(self._connection())
            except FtpbridgeError:
                raise
            except (ftplib.Error, OSError, EOFError) as error:
                raise self._translate(error, action, path) from error

        return retrying(
            attempt,
            attempts=self._params.retries,
            what=action,
            where=self.describe(),
            on_retry=self._drop,
        )

    def _translate(self, error: BaseException, action: str, path: str) -> TransportError:
        where = self.describe()
        detail = str(error).strip() or type(error).__name__
        message = f"{self.kind}: cannot {action} {path!r} on {where}: {detail}"
        if isinstance(error, ssl.SSLCertVerificationError):
            return TLSVerificationError(
                f"{self.kind}: the TLS certificate of {where} does not verify: "
                f"{error.verify_message or detail}",
                hint="set ca_file to the CA certificate that signed the server's certificate",
            )
        if isinstance(error, ftplib.error_perm):
            code = detail[:3]
            if code == "530":
                return AuthenticationError(
                    f"{self.kind}: {where} refused the login of user "
                    f"{self._params.username!r}: {detail}",
                    hint="check the user name and password; the login is not retried",
                )
            if code in ("550", "553", "450", "532"):
                if any(word in detail.lower() for word in _NOT_FOUND_WORDS):
                    return RemoteNotFoundError(message)
                return RemotePermissionError(message)
            failure = TransportError(message)
            failure.transient = False
            return failure
        # 4xx answers, timeouts, resets, unexpected answers: worth another attempt.
        return TransportError(message)

    # --- listing

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

    def _receive(self, ftp: ftplib.FTP, command: str, take: Any) -> None:
        """Run ``command`` on a data connection and give each block received to
        ``take``. When ``take`` raises (a bound was hit), the data connection is closed
        and the control connection dropped: the server may still be sending, and the next
        operation starts on a fresh connection."""
        try:
            with ftp.transfercmd(command) as connection:
                while chunk := connection.recv(BLOCK_SIZE):
                    take(chunk)
                if isinstance(connection, ssl.SSLSocket):
                    try:
                        connection.unwrap()
                    except (ssl.SSLError, OSError):
                        # Some servers close an empty listing's data connection without a TLS
                        # shutdown; the 226 on the control connection says if it was whole.
                        logger.debug("TLS data connection closed without shutdown", command=command)
        except FtpbridgeError:
            self._drop()
            raise
        ftp.voidresp()

    @staticmethod
    def _size(ftp: ftplib.FTP, path: str) -> int | None:
        try:
            ftp.voidcmd("TYPE I")
            return ftp.size(path)
        except ftplib.error_perm:
            return None

    @staticmethod
    def _mdtm(ftp: ftplib.FTP, path: str) -> datetime | None:
        try:
            return parse_ftp_time(ftp.sendcmd(f"MDTM {path}")[4:])
        except ftplib.error_perm:
            return None

    def _is_directory(self, ftp: ftplib.FTP, path: str) -> bool:
        try:
            ftp.cwd(path)
        except ftplib.error_perm:
            return False
        finally:
            ftp.cwd(self._home)
        return True

    # --- transfers

    def download(self, remote_path: str, local_path: Path, *, max_bytes: int | None = None) -> int:
        """Fetch ``remote_path`` into ``local_path`` (temp file + rename); return its size.
        Bounded by ``max_bytes`` and the minimum rate (see Transport.download)."""
        params = self._params
        what = f"{self.kind}: the download of {remote_path!r} from {self.describe()}"

        def operation(ftp: ftplib.FTP) -> int:
            expected = self._size(ftp, remote_path)
            if max_bytes is not None and expected is not None and expected > max_bytes:
                raise TooLargeError(
                    f"{what}: the server announces {expected:,} bytes, over the limit"
                    " (max_file_bytes); not downloaded",
                    size=expected,
                    limit=max_bytes,
                )
            watch = TransferWatch(
                what, min_rate=params.min_rate_bytes, grace=params.timeout, max_bytes=max_bytes
            )
            with temporary_beside(local_path) as temporary:
                with LocalSink(temporary, watch, remote=remote_path, size=expected) as sink:
                    ftp.voidcmd("TYPE I")
                    self._receive(ftp, f"RETR {remote_path}", sink.write)
                    sink.close()
                written = temporary.stat().st_size
                if expected is not None and written != expected:
                    raise TransportError(
                        f"{self.kind}: download of {remote_path!r} from {self.describe()} "
                        f"stopped at {written} of {expected} bytes"
                    )
                os.replace(temporary, local_path)
            return written

        result: int = self._run("download", remote_path, operation)
        return result

    def upload(self, local_path: Path, remote_path: str) -> None:
        """Store ``local_path`` under a temporary name of this attempt's own
        (``part_path``), then rename it onto ``remote_path``."""

        left: list[str] = []  # temporary files of earlier attempts, not removed then

        def operation(ftp: ftplib.FTP) -> None:
            for earlier in list(left):  # ours: written by this upload, cut off with its connection
                if self._remove_quietly(ftp, earlier):
                    left.remove(earlier)
            temporary = part_path(remote_path)
            try:
                with upload_source(local_path, remote_path) as handle:
                    ftp.storbinary(f"STOR {temporary}", handle, blocksize=BLOCK_SIZE)
                self._rename(ftp, temporary, remote_path)
            except BaseException:
                if not self._remove_quietly(ftp, temporary):
                    left.append(temporary)
                raise

        self._run("upload to", remote_path, operation)

    def _remove_quietly(self, ftp: ftplib.FTP, path: str) -> bool:
        """Remove ``path`` (a temporary file of ours); True when it is gone."""
        try:
            ftp.delete(path)
        except ftplib.error_perm as error:
            return any(word in str(error).lower() for word in _NOT_FOUND_WORDS)
        except (ftplib.Error, OSError, EOFError):
            logger.debug("could not remove temporary upload", path=path, server=self.describe())
            return False
        return True

    # --- file operations

    def rename(self, source: str, target: str) -> None:
        """Rename ``source`` onto ``target`` (replaced where the server replaces; never
        deleted first: TargetExistsError where the server will not replace it)."""
        self._run(f"rename {source!r} to", target, lambda ftp: self._rename(ftp, source, target))

    def _rename(self, ftp: ftplib.FTP, source: str, target: str) -> None:
        self._rename_from(ftp, source)
        try:
            ftp.voidcmd(f"RNTO {target}")
        except ftplib.error_perm as error:
            refused = error
        else:
            return
        if self._size(ftp, target) is not None:
            # This server will not rename onto an existing file. Deleting it first would
            # delete a file someone else wrote (another upload of the same name that just
            # finished): leave it, and say so.
            raise TargetExistsError(
                f"{self.kind}: {self.describe()} will not replace {target!r}, which exists"
                f" ({refused}); ftpbridge never deletes a file it did not write",
                hint="remove or rename that file on the server if it is not wanted",
            ) from refused
        if not same_directory(source, target):
            raise CrossDirectoryRenameError(
                f"{self.kind}: {self.describe()} refused to move {source!r} to {target!r} "
                f"(another directory): {refused}",
                hint="the file will be copied and the original deleted instead",
            ) from refused
        raise refused

    def _rename_from(self, ftp: ftplib.FTP, source: str) -> None:
        try:
            answer = ftp.sendcmd(f"RNFR {source}")
        except ftplib.error_perm as error:
            text = str(error)
            if text[:3] == "550" and "permission" not in text.lower():
                raise RemoteNotFoundError(
                    f"{self.kind}: cannot rename {source!r} on {self.describe()}: {text}"
                ) from error
            raise
        if not answer.startswith("3"):
            raise ftplib.error_reply(answer)  # noqa: S321  (an exception class, not a call)

    def delete(self, path: str) -> None:
        """Delete the file ``path``."""
        self._run("delete", path, lambda ftp: ftp.delete(path))

    def makedirs(self, path: str) -> None:
        """Create ``path`` and any missing parent; an existing directory is fine."""

        def operation(ftp: ftplib.FTP) -> None:
            if self._is_directory(ftp, path):
                return
            current = "/" if path.startswith("/") else ""
            for component in [part for part in path.split("/") if part]:
                current = posixpath.join(current, component) if current else component
                try:
                    ftp.mkd(current)
                except ftplib.error_perm:
                    if not self._is_directory(ftp, current):
                        raise

        self._run("create directory", path, operation)
