"""E-mails to customers: one per order and file (or API update), over SMTP.

Each ``email`` event carries the order's address, the customer's name and the items as
they were applied (store/outbox.py ``add_emails``). It is rendered with the templates
(:mod:`ftpbridge.notify.templates`) into a plain-text and an HTML part and sent through
``[notify.email]``: STARTTLS (default) or TLS from the first byte, the certificate
verified (system CAs or ``ca_file``), a login when ``username`` is set.

Headers are built with :class:`email.message.EmailMessage`, never by pasting text: the
customer's name goes into ``To`` as a display name with every control character (CR,
LF, ...) taken out, the subject is one line, and the envelope names the one recipient
explicitly. Untrusted text in a header also loses the start of an RFC 2047 encoded word
(``=?`` becomes ``= ?``): Python before 3.11.10 / 3.12.5 decodes such a word while it
folds a header and writes the CR LF inside it out raw (CVE-2024-6923), which would add a
``Bcc:`` line. And the header block generated is read back before it is sent: only the
headers built, one ``To`` address, or the e-mail is not sent; the bytes checked are the
bytes sent. ``Message-ID`` is made from the event's id: a message sent twice (at least
once) has the same id.

Outcomes: accepted = delivered; the recipient refused with a 5xx (no such mailbox) or a
message refused with a 5xx = refused, dead at once; an address that is not one = dead
at once; a 4xx, a connection or login problem = tried again later.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import ssl
from collections.abc import Callable, Sequence
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import SMTPUTF8 as SMTPUTF8_POLICY
from email.utils import format_datetime, getaddresses
from typing import Any

from jinja2 import TemplateError

from ftpbridge.carriers import display_name, tracking_url
from ftpbridge.notify.outcomes import DELIVERED, Outcome, printable
from ftpbridge.notify.templates import Templates, describe, one_line
from ftpbridge.settings import EmailSettings
from ftpbridge.store.outbox import Event

BATCH_SIZE = 20  # e-mails per SMTP connection (and per claim)
_NOT_IN_ADDRESS = frozenset(' \t\r\n\0,;<>()[]"\\')


HEADERS = frozenset({"from", "to", "reply-to", "subject", "date", "message-id", "auto-submitted",
                     "mime-version", "content-type", "content-transfer-encoding"})  # fmt: skip


def header_text(text: str, limit: int = 200) -> str:
    """Untrusted text fit for a header: one line, no control characters, no encoded-word
    start (see the module doc)."""
    return one_line(text, limit).replace("=?", "= ?")


def clean_name(name: str, limit: int = 100) -> str:
    """A customer's name fit for a display name (see :func:`header_text`)."""
    return header_text(name, limit)


def checked_bytes(message: EmailMessage, international: bool) -> bytes:
    """The message as it goes over SMTP, once its header block has been read back: only
    the headers :data:`HEADERS` lists, each once, ``To`` with one address. ValueError
    otherwise (something in a value made a header of its own)."""
    policy = SMTPUTF8_POLICY if international else SMTP_POLICY
    data = message.as_bytes(policy=policy)
    block = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")
    names = [
        line.partition(":")[0].strip().lower()
        for line in block.split("\r\n")
        if line and not line[0].isspace()
    ]
    if set(names) - HEADERS or len(names) != len(set(names)):
        raise ValueError(f"its headers would not come out as built ({', '.join(names)})")
    parsed = message_from_bytes(data, policy=SMTP_POLICY)
    recipients = getaddresses([str(value) for value in parsed.get_all("To", [])])
    if len(recipients) != 1:
        raise ValueError("its To header would not name exactly one address")
    return data


def recipient_problem(address: str) -> str | None:
    """What keeps ``address`` from being one plain mailbox (``local@domain``), or None."""
    shown = address if len(address) <= 80 else address[:77] + "..."
    if not address or len(address) > 254 or _NOT_IN_ADDRESS.intersection(address):
        return f"{shown!r} is not one e-mail address"
    if address.count("@") != 1 or not all(address.split("@")) or not address.isprintable():
        return f"{shown!r} is not one e-mail address"
    if not address.partition("@")[0].isascii():
        return (
            f"{shown!r} has letters outside ASCII before the @ (an international mailbox);"
            " ftpbridge cannot address those"
        )
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError):
        return f"{shown!r} is not one e-mail address"
    return None


def context_of(event: Event, reply_to: str | None) -> dict[str, Any]:
    """The templates' context for an ``email`` event (see templates.py)."""
    payload = json.loads(event.payload or "{}")
    items = []
    for item in sorted(
        payload.get("items", []), key=lambda item: (len(item["item_id"]), item["item_id"])
    ):
        code = item.get("carrier") or ""
        number = item.get("tracking_number") or ""
        items.append(
            {
                "item_id": item["item_id"],
                "product_name": item.get("product_name") or "",
                "quantity": item.get("quantity") or 1,
                "shipped_date": item.get("shipped_date") or "",
                "carrier": display_name(code),
                "carrier_code": code,
                "tracking_number": number,
                "tracking_url": tracking_url(code, number) if code and number else None,
                "corrected": item.get("event") == "item.corrected",
            }
        )
    return {
        "order_id": event.order_id,
        "name": clean_name(payload.get("name") or ""),
        "email": event.recipient or "",
        "items": items,
        "corrected": bool(items) and all(item["corrected"] for item in items),
        "reply_to": reply_to,
    }


class EmailChannel:
    """Sends ``email`` events over one SMTP connection per batch. The password is never
    shown (no repr)."""

    name = "email"
    batch_size = BATCH_SIZE

    def __init__(
        self,
        config: EmailSettings,
        password: str | None,
        templates: Templates,
        *,
        clock: Callable[[], dt.datetime],
    ) -> None:
        if config.host is None or config.from_address is None:
            raise ValueError("EmailChannel needs [notify.email] host and from")
        self.host = config.host
        self.port = config.effective_port
        self.config = config
        self._password = password
        self.templates = templates
        self.clock = clock
        self.where = f"{self.host}:{self.port}"
        self.sender_address = getaddresses([config.from_address])[0][1]
        self.domain = self.sender_address.rpartition("@")[2] or "ftpbridge.invalid"
        # A lease covers connecting, logging in and every message of the batch.
        self.lease_seconds = config.timeout * (self.batch_size + 3) + 30

    def message(self, event: Event) -> EmailMessage:
        """The e-mail of ``event``; ValueError (bad address) or Jinja2's TemplateError.
        (:func:`checked_bytes` then makes the bytes to send.)"""
        recipient = event.recipient or ""
        problem = recipient_problem(recipient)
        if problem is not None:
            raise ValueError(f"order {event.order_id}'s address {problem}")
        context = context_of(event, self.config.reply_to)
        rendered = self.templates.render(context)
        message = EmailMessage(policy=SMTP_POLICY)
        message["From"] = self.config.from_address
        message["To"] = Address(display_name=context["name"], addr_spec=recipient)
        if self.config.reply_to:
            message["Reply-To"] = self.config.reply_to
        message["Subject"] = header_text(rendered.subject)
        message["Date"] = format_datetime(self.clock().astimezone(dt.UTC))
        message["Message-ID"] = f"<{event.event_id}@{self.domain}>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(events)
        messages: list[tuple[int, bytes]] = []
        for index, event in enumerate(events):
            try:
                international = not ((event.recipient or "") + self.sender_address).isascii()
                data = checked_bytes(self.message(event), international)
                messages.append((index, data))
            except ValueError as exc:
                outcomes[index] = Outcome("refused", error=f"not sent: {exc}")
            except TemplateError as exc:
                where = describe(exc, self.templates.where)
                outcomes[index] = Outcome("refused", error=f"the template {where} failed: {exc}")
        if messages:
            self._send(messages, events, outcomes)
        return [outcome or Outcome("retry", error="not attempted") for outcome in outcomes]

    def _send(
        self,
        messages: list[tuple[int, bytes]],
        events: Sequence[Event],
        outcomes: list[Outcome | None],
    ) -> None:
        try:
            client = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            failure = Outcome(
                "retry",
                status=exc.smtp_code,
                error=f"the SMTP server {self.where} refused the user name or password"
                " ([notify.email] username and password)",
            )
            for index, _message in messages:
                outcomes[index] = failure
            return
        except (smtplib.SMTPException, OSError) as exc:
            failure = Outcome("retry", error=f"cannot send through {self.where}: {_said(exc)}")
            for index, _message in messages:
                outcomes[index] = failure
            return
        try:
            for position, (index, data) in enumerate(messages):
                recipient = events[index].recipient or ""
                international = not (recipient + self.sender_address).isascii()
                options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
                try:
                    client.sendmail(self.sender_address, [recipient], data, mail_options=options)
                    outcomes[index] = DELIVERED
                except smtplib.SMTPRecipientsRefused as exc:
                    code, text = exc.recipients.get(recipient, (0, b""))
                    outcomes[index] = _answer(code, text, f"{self.where} refused {recipient}")
                except smtplib.SMTPSenderRefused as exc:  # the sender, not this message
                    refused = printable(_bytes(exc.smtp_error))
                    error = f"{self.where} refused the sender {self.sender_address}: {refused}"
                    outcomes[index] = Outcome(
                        "retry", status=exc.smtp_code, error=f"{error} ([notify.email] from)"
                    )
                except smtplib.SMTPDataError as exc:
                    said = f"{self.where} refused the message"
                    outcomes[index] = _answer(exc.smtp_code, exc.smtp_error, said)
                except smtplib.SMTPNotSupportedError as exc:
                    outcomes[index] = Outcome("refused", error=f"{self.where}: {_said(exc)}")
                except (smtplib.SMTPException, OSError) as exc:
                    failure = Outcome("retry", error=f"sending through {self.where}: {_said(exc)}")
                    for later, _message in messages[position:]:
                        outcomes[later] = failure
                    return
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        context = ssl.create_default_context(
            cafile=str(config.ca_path) if config.ca_path is not None else None
        )
        client: smtplib.SMTP
        if config.tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=config.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=config.timeout)
        try:
            client.ehlo()
            if config.uses_starttls:
                client.starttls(context=context)
                client.ehlo()
            if config.username:
                client.login(config.username, self._password or "")
        except BaseException:
            client.close()
            raise
        return client

    def close(self) -> None:
        return None


def _answer(code: int, text: bytes | str, said: str) -> Outcome:
    """An SMTP reply as an outcome: 5xx refused (dead), anything else tried again."""
    message = printable(_bytes(text))
    error = f"{said}: {code} {message}".strip()
    if 500 <= code < 600:
        return Outcome("refused", status=code, error=error, response=message)
    return Outcome("retry", status=code or None, error=error, response=message)


def _said(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {printable(_bytes(exc.smtp_error))}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its certificate does not verify ({exc.verify_message}); set ca_file or fix it"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8", errors="replace") if isinstance(value, str) else value
