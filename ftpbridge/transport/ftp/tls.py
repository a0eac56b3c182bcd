"""FTPS data connections that resume the control connection's TLS session."""

from __future__ import annotations

import ftplib
import socket
import ssl


class ReusingFTP_TLS(ftplib.FTP_TLS):  # named after the ftplib class it extends
    """FTP_TLS whose data connections resume the control connection's TLS session.

    vsftpd (``require_ssl_reuse``) and FileZilla Server refuse data connections that do not
    reuse the session, as a guard against data-connection theft; ftplib does not do it.

    Public API only: that data connections are protected is remembered here, from the
    public ``prot_p`` call (ftplib keeps it in a private flag, ``_prot_p``; ftpbridge never
    turns protection off again), and the data socket is wrapped with the context given
    here and the control socket's public ``session``.
    """

    def __init__(self, *, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(context=context, timeout=timeout)
        self._data_context = context
        self._protected = False

    def prot_p(self) -> str:
        """Protect data connections (PROT P), and remember it."""
        answer = super().prot_p()
        self._protected = True
        return answer

    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        """Open the data connection (plain FTP's), then TLS resuming the control session."""
        connection, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321  (TLS below)
        if self._protected:
            control = self.sock
            connection = self._data_context.wrap_socket(
                connection,
                server_hostname=self.host,
                session=control.session if isinstance(control, ssl.SSLSocket) else None,
            )
        return connection, size
