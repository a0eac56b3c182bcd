"""``[notify]`` and ``[notify.email]``: the outbox's webhook to the shop and the SMTP server
that e-mails customers, with the checks of their keys (durations, URLs, addresses)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from ftpbridge.settings.base import _relative_to, _Strict
from ftpbridge.settings.credentials import _read_secret

# --------------------------------------------------------------------------- issue 15
# Notifications: ``[notify]`` (the signed webhook to the shop, and how the outbox is sent)
# and ``[notify.email]`` (e-mails to customers, off unless a partner asks for them).


def duration_seconds(value: Any) -> Any:
    """``172800``, ``"48h"``, ``"90m"``, ``"2d"``, ``"30s"`` → seconds (other values are
    left for pydantic to refuse)."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower().replace(" ", "")
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise ValueError(
            f'{value!r} is not a duration: write seconds (172800) or e.g. "48h", "90m", "2d"'
        ) from None


def plain_address(value: str, where: str) -> str:
    """An e-mail address as one header value allows: ``shop@example.com`` or
    ``Shop Name <shop@example.com>``; ValueError saying what is wrong."""
    from email.headerregistry import Address
    from email.utils import getaddresses

    if any(character in value for character in "\r\n\0") or len(value) > 320:
        raise ValueError(f"{where} must be one address on one line, at most 320 characters")
    found = getaddresses([value])
    address = found[0][1] if len(found) == 1 else ""
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError):
        address = ""
    if "@" not in address:
        raise ValueError(f"{where} {value!r} is not an e-mail address (e.g. shop@example.com)")
    return value


class EmailSettings(_Strict):
    """``[notify.email]``: the SMTP server that e-mails customers (partners with
    ``notify_customers = true``, API updates with ``email_on_update=true``)."""

    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    """Default: 465 with ``tls``, 587 with ``starttls``, else 25."""
    starttls: bool | None = None
    """Upgrade the connection with STARTTLS (default, unless ``tls``)."""
    tls: bool = False
    """TLS from the first byte (SMTPS, usually port 465)."""
    username: str = ""
    password: SecretStr | None = None
    password_file: Path | None = None
    from_address: str | None = Field(None, alias="from")
    reply_to: str | None = None
    templates_dir: Path | None = None
    """A folder with your own ``shipment.subject.txt``, ``shipment.txt``, ``shipment.html``
    (Jinja2; each one left out is the built-in one)."""
    ca_file: Path | None = None
    """CA certificates to verify the server with (default: the system's)."""
    timeout: float = Field(30, gt=0, le=600)

    @model_validator(mode="after")
    def _consistent(self) -> EmailSettings:
        if self.tls and self.starttls:
            raise ValueError("set tls = true (SMTPS) or starttls = true, not both")
        if self.password is not None and self.password_file is not None:
            raise ValueError("set 'password' or 'password_file', not both")
        if self.host is not None and self.from_address is None:
            raise ValueError("'host' is set: set 'from' too (the sender address of the e-mails)")
        if self.from_address is not None:
            plain_address(self.from_address, "from")
        if self.reply_to is not None:
            plain_address(self.reply_to, "reply_to")
        return self

    _base_dir: Path | None = PrivateAttr(None)

    @property
    def uses_starttls(self) -> bool:
        return not self.tls if self.starttls is None else self.starttls

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.tls else 587 if self.uses_starttls else 25

    @property
    def templates_path(self) -> Path | None:
        """``templates_dir``, relative to the config file's folder."""
        return _relative_to(self.templates_dir, self._base_dir)

    @property
    def ca_path(self) -> Path | None:
        """``ca_file``, relative to the config file's folder."""
        return _relative_to(self.ca_file, self._base_dir)

    def secret_password(self) -> str | None:
        """The SMTP password: here, the environment, ``password_file`` or the systemd
        credential ``smtp-password``."""
        if self.password is not None:
            return self.password.get_secret_value()
        return _read_secret(self.password_file, "smtp-password", self._base_dir)


class NotifySettings(_Strict):
    """``[notify]``: the outbox of shipment events, sent by ``ftpbridge run`` (and
    ``ftpbridge notify send``) to the shop's webhook and, per ``[notify.email]``, to customers."""

    webhook_url: str | None = None
    """Where every shipped, corrected or reinstated item is POSTed (signed JSON)."""
    webhook_secret: SecretStr | None = None
    """The HMAC-SHA256 key of the ``Ftpbridge-Signature`` header; also from
    ``webhook_secret_file``, ``FTPBRIDGE_NOTIFY__WEBHOOK_SECRET`` or the systemd credential
    ``webhook-secret``."""
    webhook_secret_file: Path | None = None
    timeout: float = Field(10, gt=0, le=300)
    """Seconds a webhook request may take to connect, send and answer."""
    batch_size: int = Field(100, ge=1, le=1000)
    """Events per webhook POST."""
    give_up_after: float = Field(48 * 3600, gt=0)
    """A delivery that keeps failing is retried (exponential backoff) this long, then
    dead: seconds or e.g. "48h"."""
    interval: float = Field(10, gt=0, le=3600)
    """How often ``ftpbridge run`` looks for events to send (seconds)."""
    keep_delivered_days: int = Field(30, ge=0)
    """Delivered events are deleted after this many days (0: right away)."""
    email: EmailSettings = EmailSettings()

    @field_validator("give_up_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return duration_seconds(value)

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f'{value[:80]!r} is not an http(s) URL; write e.g. "https://shop.example.com/hooks/ftpbridge"'
            )
        if any(character.isspace() for character in value.strip()):
            raise ValueError("must not contain spaces")
        return value.strip()

    @model_validator(mode="after")
    def _one_secret(self) -> NotifySettings:
        if self.webhook_secret is not None and self.webhook_secret_file is not None:
            raise ValueError("set 'webhook_secret' or 'webhook_secret_file', not both")
        return self

    _base_dir: Path | None = PrivateAttr(None)

    @property
    def enabled(self) -> bool:
        """Whether anything is configured to be sent."""
        return self.webhook_url is not None or self.email.host is not None

    def secret_webhook_key(self) -> str | None:
        """The webhook's signing secret, from the config, the environment, a file or the
        systemd credential ``webhook-secret``."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        return _read_secret(self.webhook_secret_file, "webhook-secret", self._base_dir)
