"""A real SMTP server on 127.0.0.1 for the e-mail tests: aiosmtpd's Controller (asyncio in
a thread), speaking SMTP with STARTTLS or TLS from the first byte, a login, and
recipients it refuses:

- ``nobody@...``: ``550 5.1.1 no such mailbox`` (permanent),
- ``busy@...``: ``451 4.3.0 mailbox busy`` (try again later).

Every message it accepts is kept: the envelope (sender, recipients) and the bytes.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "shop-mailer"
PASSWORD = "smtp-test-secret-0417"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        # As a mail client reads it: lines end in "\n" once the message has arrived.
        parsed = message_from_bytes(self.data.replace(b"\r\n", b"\n"), policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Mailbox:
    """The handler: refuses some recipients, keeps the messages."""

    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: Any) -> str:  # fmt: skip
        if address.startswith("nobody@"):
            return f"550 5.1.1 <{address}>: no such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 2.0.0 accepted"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers (235 or 535)


class _Loopback(Controller):
    """Controller on a port the system picks (port 0), found before its self-check."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class MailServer:
    """``mode``: "starttls" (login required over TLS), "tls" (SMTPS) or "plain" (no TLS,
    no login). ``cert_file``: the server's certificate and key (tests/servers.py)."""

    def __init__(self, mode: str, cert_file: Path) -> None:
        self.mailbox = Mailbox()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file)
        options: dict[str, Any] = {}
        if mode == "starttls":
            options = {"tls_context": context, "require_starttls": True, "auth_required": True,
                       "authenticator": _authenticate}  # fmt: skip
        elif mode == "tls":
            options = {"ssl_context": context, "auth_required": True,
                       "authenticator": _authenticate, "auth_require_tls": False}  # fmt: skip
        self.controller = _Loopback(self.mailbox, hostname="127.0.0.1", port=0, **options)
        self.controller.start()
        self.port: int = self.controller.port

    @property
    def received(self) -> list[Received]:
        return self.mailbox.received

    def stop(self) -> None:
        self.controller.stop()
