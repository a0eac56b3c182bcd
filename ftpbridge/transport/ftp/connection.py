"""An FTP connection kept and retried: connect, TLS (FTPS: certificate checked, data
connections resuming the control session via ``tls``), log in, FEAT; every operation run
on a live connection with transient errors retried and ftplib's errors translated into the
exception tree; data connections read block by block; SIZE, MDTM and "is it a directory".

``FTPConnection`` is the first of three layers of the FTP transport: ``directories``
adds listings, ``transport`` transfers and file operations (``FTPTransport``).
"""

from __future__ import annotations

import ftplib
import socket
import ssl
import threading
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import structlog

from ftpbridge import deadlines
from ftpbridge.errors import (
    AuthenticationError,
    FtpbridgeError,
    RemoteNotFoundError,
    RemotePermissionError,
    TLSVerificationError,
    TransportError,
)
from ftpbridge.transport.base import ATTEMPT_TIMEOUTS, ConnectionParams
from ftpbridge.transport.ftp.listing import parse_ftp_time, size_of
from ftpbridge.transport.ftp.tls import ReusingFTP_TLS
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


# Large blocks: ftplib's default of 8 KiB costs a third of the throughput on fast links.
BLOCK_SIZE = 256 * 1024
DEFAULT_PORT = 21

NOT_FOUND_WORDS = (
    "no such",
    "not found",
    "not exist",
    "doesn't exist",
    "cannot find",
    "can't find",
)


class FTPConnection:
    """An ftplib connection to one server (``kind="ftp"``, or ``"ftps"`` with explicit
    TLS), opened on first use, dropped and reopened between attempts."""

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
                if any(word in detail.lower() for word in NOT_FOUND_WORDS):
                    return RemoteNotFoundError(message)
                return RemotePermissionError(message)
            failure = TransportError(message)
            failure.transient = False
            return failure
        # 4xx answers, timeouts, resets, unexpected answers: worth another attempt.
        return TransportError(message)

    # --- data connections and small queries

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
        """The size SIZE answers; None when refused or not 1 to 20 digits (ftplib's own
        ``size()`` int()s whatever follows 213: "213 ²" raised a ValueError)."""
        try:
            ftp.voidcmd("TYPE I")
            answer = ftp.sendcmd(f"SIZE {path}")
        except ftplib.error_perm:
            return None
        return size_of(answer[3:].strip()) if answer[:3] == "213" else None

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
