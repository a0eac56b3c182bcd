"""Configuration: one TOML file, environment overrides, validated once at the edge.

Where the file comes from: ``--config PATH``, else ``$FTPBRIDGE_CONFIG``, else ``./config.toml``.
Every key can be overridden by an environment variable ``FTPBRIDGE_<SECTION>__<KEY>``, e.g.
``FTPBRIDGE_STORE__URL`` or ``FTPBRIDGE_PARTNERS__ACME__PASSWORD``. Secrets may also come
from files (``password_file`` / ``private_key_passphrase_file``) and from systemd
credentials (``LoadCredential=``), named once in :data:`CREDENTIALS` and read here only.

The result is a frozen :class:`Settings`; the CLI builds it and passes down the slice each
piece needs. Unknown keys and wrong types are reported all at once, each naming its key.

Longer than 400 lines on purpose: the whole config schema (every section's model with the
checks of its keys) and how it is loaded read as one document, in the order of
config.example.toml; a split would scatter one file's keys over several modules.
"""

from __future__ import annotations

import codecs
import os
import posixpath
import re
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ftpbridge.errors import ConfigError
from ftpbridge.wording import plural, quoted

ENV_PREFIX = "FTPBRIDGE_"
DEFAULT_CONFIG = Path("config.toml")

CREDENTIALS: dict[str, str] = {
    "store-url": "[store] url: the whole URL, e.g. postgresql://ftpbridge:PASSWORD@db/ftpbridge",
    "PARTNER-password": "[partners.PARTNER] password (FTP, FTPS, SFTP)",
    "PARTNER-private-key": "[partners.PARTNER] private_key: the SFTP private key itself",
    "PARTNER-private-key-passphrase": "[partners.PARTNER] private_key_passphrase",
    "webhook-secret": "[notify] webhook_secret: the key that signs the shop's webhook",
    "smtp-password": "[notify.email] password: the SMTP server's password",
}
"""The systemd credentials ftpbridge reads from ``$CREDENTIALS_DIRECTORY`` (PARTNER: the
partner's name), each used only when the config and the environment leave its key unset.
The unit loads every file of ``/etc/ftpbridge/credentials`` (``LoadCredential=ftpbridge:
/etc/ftpbridge/credentials``), which systemd names ``ftpbridge_<file name>``: both spellings
are read. The README, the unit and config.example.toml name exactly these."""

CREDENTIAL_PREFIX = "ftpbridge_"

TransportKind = Literal["ftp", "ftps", "sftp", "local"]

# Issue 12: the defaults of the bounds on what a partner's server may cost.
DEFAULT_MIN_RATE_BYTES = 10_000  # 80 kbit/s: slower than any line a partner still uses
DEFAULT_MAX_LISTING_ENTRIES = 50_000
# A partner's name becomes part of local paths and lock names: letters, digits, "-", "_"
# and "." (not first), 64 characters at most.
PARTNER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StoreSettings(_Strict):
    """``[store]``: where orders, the file ledger and the audit trail live."""

    url: SecretStr | None = None
    """SQLAlchemy URL. Default: ``sqlite:///ftpbridge.db`` in the state directory. A
    relative SQLite path is taken relative to the config file's folder."""

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        """A URL SQLAlchemy can read; the message never repeats it (it may hold a password)."""
        if value is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value.get_secret_value())
        except (ArgumentError, ValueError) as exc:
            reason = "no scheme" if isinstance(exc, ArgumentError) else "unreadable host or port"
            raise ValueError(
                f"[store] url is not a valid database URL ({reason}); write it as"
                " sqlite:///ftpbridge.db or postgresql://USER@HOST:PORT/DATABASE"
                " (an IPv6 host in brackets: [::1])"
            ) from None
        return value


class DaemonSettings(_Strict):
    """``[daemon]``: the service as a whole."""

    state_dir: Path | None = None
    workers: int = Field(4, ge=1, le=64)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_file_bytes: int = Field(200_000_000, ge=1)
    misfire_grace_seconds: int = Field(300, ge=1)
    export_retry_seconds: float = Field(60, gt=0)
    """First wait before a failed export upload is tried again; it doubles each time
    (capped at 30 minutes) until it works or the partner's day ends."""
    keep_local_days: int = Field(90, ge=0, le=36_500)
    """Local copies in the state folder (archive/, outgoing/) older than this are removed
    by ``ftpbridge run`` (at start, then daily); never one whose ledger row is not final.
    0 keeps them for ever."""


class PartnerSettings(_Strict):
    """``[partners.NAME]``: one fulfiller."""

    name: str = ""
    enabled: bool = True
    default: bool = False
    skus: tuple[str, ...] = ()
    layout: str = Field("default", alias="schema")
    timezone: str = "UTC"
    date_formats: tuple[str, ...] = ()
    filename_template: str = "orders_{date:%Y-%m-%d}.csv"
    export_mode: Literal["all_unshipped", "new_only"] = "all_unshipped"
    edit_window_days: int = Field(15, ge=0)
    past_due_days: int = Field(3, ge=0)

    # How files are written for this partner (import detects these by itself).
    delimiter: str = ","
    encoding: str = "utf-8"
    bom: bool = False
    line_ending: Literal["crlf", "lf"] = "crlf"
    date_format: str = "%Y-%m-%d"
    # "xlsx": the fill-in workbook instead of CSV (files/workbook_export.py); the file name
    # template's ".csv" becomes ".xlsx" (exporting.file_name).
    export_format: Literal["csv", "xlsx"] = "csv"

    # Transport. No transport: manual-only (export/import by hand; the daemon leaves it alone).
    transport: TransportKind | None = None
    host: str = ""
    port: int | None = Field(None, ge=1, le=65535)
    username: str = ""
    password: SecretStr | None = None
    password_file: Path | None = None
    private_key: Path | None = None
    private_key_passphrase: SecretStr | None = None
    private_key_passphrase_file: Path | None = None
    known_hosts: Path | None = None
    outbox: str = "/"
    inbox: str | None = None
    updated_pattern: str = "*updated_*"
    archive_dir: str = "archive"
    errors_dir: str = "errors"
    settle_seconds: float = Field(30, ge=0)
    done_marker: bool = False
    passive: bool = True
    timeout: float = Field(60, gt=0)
    ca_file: Path | None = None
    tls_verify: bool = True
    path: Path | None = None

    # Schedule (daemon).
    export_cron: str = "0 6 * * *"
    poll_interval: float = Field(300, gt=0)
    alert_after: int = Field(3, ge=1)
    stale_after: float | None = Field(None, gt=0)

    # What a broken or hostile server may cost (issue 12): every transfer and listing is
    # bounded; the checks of the folders a poll moves files into are below (_folders_apart).
    min_rate_bytes: int = Field(DEFAULT_MIN_RATE_BYTES, ge=1)
    """The slowest transfer accepted, in bytes per second: past the first ``timeout``
    seconds a transfer that falls behind this rate is abandoned, counted as a failure and
    tried again at the next poll (its deadline: ``timeout`` + size / ``min_rate_bytes``)."""
    max_listing_entries: int = Field(DEFAULT_MAX_LISTING_ENTRIES, ge=1, le=10_000_000)
    """A folder listing with more entries than this is refused with an error (and a
    listing is read as a stream, never more than this many entries held)."""
    # Notifications (issue 15): e-mail this partner's customers when their items ship
    # (fulfillers usually e-mail them themselves, hence off).
    notify_customers: bool = False

    # Inventory (issue 14): the warehouse's stock file in the inbox, polled on its own
    # schedule; "" as the pattern turns it off.
    inventory_pattern: str = "*inventory*"
    inventory_interval: float = Field(3600, gt=0)
    inventory_mode: Literal["snapshot", "delta"] = "snapshot"
    inventory_max_zeroed: float = 0.5
    """The largest share of the partner's SKUs in stock a snapshot may set to 0 (0.5 or
    "50%"); a snapshot that would zero more is held, not applied."""
    low_stock_threshold: int = Field(5, ge=0, le=1_000_000_000)
    """A SKU of this partner is low on stock when its free stock (in stock, less reserve,
    less sold but not shipped) is at most this (``skus list --low-stock``, the console)."""

    @field_validator("inventory_max_zeroed", mode="before")
    @classmethod
    def _share(cls, value: Any) -> float:
        if isinstance(value, str):  # "50%", or a number from an environment variable
            text = value.strip()
            try:
                share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
            except ValueError:
                share = -1.0
        elif isinstance(value, int | float) and not isinstance(value, bool):
            share = float(value)
        else:
            share = -1.0
        if not 0 <= share <= 1:
            raise ValueError(
                f"{value!r} is not a share: write a fraction from 0 to 1 (0.5) or a"
                ' percentage ("50%")'
            )
        return share

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {quoted(value)}: use an IANA name such as 'Europe/London'"
                " or 'UTC'"
            ) from None
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {quoted(value)}: use e.g. 'utf-8' or 'cp1252'"
            ) from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        value = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ","}.get(value, value)
        if len(value) != 1 or value in '\r\n"':
            raise ValueError("must be one character: ',', ';', '|' or 'tab'")
        return value

    @field_validator("filename_template")
    @classmethod
    def _usable_template(cls, value: str) -> str:
        import datetime as _dt

        try:
            rendered = value.format(date=_dt.datetime(2026, 1, 31), partner="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"cannot be filled in ({exc}); use {{date:%Y-%m-%d}} and {{partner}} only"
            ) from None
        if "/" in rendered or "\\" in rendered or rendered.startswith("."):
            raise ValueError("must be a plain file name (no '/', '\\' or leading '.')")
        return value

    @model_validator(mode="after")
    def _transport_needs(self) -> PartnerSettings:
        if self.transport in ("ftp", "ftps", "sftp") and not self.host:
            raise ValueError(f"transport = {quoted(self.transport)} needs 'host'")
        if self.transport == "local" and self.path is None:
            raise ValueError("transport = 'local' needs 'path' (the directory to exchange through)")
        if self.password is not None and self.password_file is not None:
            raise ValueError("set 'password' or 'password_file', not both")
        return self

    @model_validator(mode="after")
    def _folders_apart(self) -> PartnerSettings:
        """``archive_dir`` and ``errors_dir`` may not be the inbox itself: every file moved
        there would be listed, matched and taken again at the next poll."""
        inbox = posixpath.normpath(self.inbox_dir or ".")
        for key, folder in (("archive_dir", self.archive_dir), ("errors_dir", self.errors_dir)):
            where = folder if folder.startswith("/") else posixpath.join(inbox, folder)
            if not folder.strip() or posixpath.normpath(where) == inbox:
                raise ValueError(
                    f"{key} = {folder!r} is the inbox itself ({self.inbox_dir!r}): the files"
                    f" moved there would be taken again at every poll; use a folder of its"
                    f' own, e.g. {key} = "{key.removesuffix("_dir")}"'
                )
        return self

    # The folder of the config file, for relative secret files (set by build_settings).
    _base_dir: Path | None = PrivateAttr(None)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def inbox_dir(self) -> str:
        return self.inbox if self.inbox is not None else self.outbox

    @property
    def stale_seconds(self) -> float:
        return self.stale_after if self.stale_after is not None else 3 * self.poll_interval

    def secret_password(self) -> str | None:
        """The password, from the config, the environment, a file or a systemd credential."""
        if self.password is not None:
            return self.password.get_secret_value()
        return _read_secret(self.password_file, f"{self.name}-password", self._base_dir)

    def secret_passphrase(self) -> str | None:
        """The private key's passphrase, if any, from the same places as the password."""
        if self.private_key_passphrase is not None:
            return self.private_key_passphrase.get_secret_value()
        return _read_secret(
            self.private_key_passphrase_file,
            f"{self.name}-private-key-passphrase",
            self._base_dir,
        )

    def key_file(self) -> Path | None:
        """The SFTP private key file: ``private_key`` (a relative path is looked for in
        ``$CREDENTIALS_DIRECTORY`` first, then next to the config), else the systemd
        credential ``<partner>-private-key``, else None."""
        if self.private_key is not None:
            path = self.private_key.expanduser()
            if not path.is_absolute():
                found = credential_path(str(path))
                if found is not None:
                    return found
                return _absolute(path, self._base_dir) if self._base_dir is not None else path
            return path
        return credential_path(f"{self.name}-private-key")


# --------------------------------------------------------------------------- issue 13
# The HTTP service (``[api]``) and the shop's orders drop folder (``[orders]``).


class ApiSettings(_Strict):
    """``[api]``: the Orders API (``ftpbridge serve``; ``ftpbridge run`` when ``listen`` is set)."""

    listen: str | None = None
    """``HOST:PORT`` to serve on, e.g. ``"127.0.0.1:8080"`` (``"[::1]:8080"`` for IPv6).
    Unset: ``ftpbridge run`` serves no HTTP."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_body_bytes: int = Field(16_000_000, ge=1_000, le=1_000_000_000)
    max_page_size: int = Field(1_000, ge=1, le=100_000)
    max_update_items: int = Field(50_000, ge=1, le=1_000_000)
    max_orders_per_request: int = Field(10_000, ge=1, le=1_000_000)
    max_json_depth: int = Field(32, ge=4, le=200)
    request_timeout_seconds: float = Field(30, gt=0, le=3_600)
    """A request's body must arrive, and its database work finish, within this time."""
    key_cache_seconds: float = Field(5, ge=0, le=60)
    """A key the store found valid is trusted this long by the process that asked, without
    asking again: a revoked key stops working within this time. 0: ask on every request."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses of reverse proxies whose ``X-Forwarded-For`` is believed (for logs and the
    slow-down of failed logins); e.g. ``["127.0.0.1"]`` behind a local nginx."""

    @field_validator("listen")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        listen_address(value)
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> ApiSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("set both tls_cert and tls_key (or neither, behind a proxy)")
        return self

    @property
    def host(self) -> str:
        return listen_address(self.listen or "127.0.0.1:8080")[0]

    @property
    def port(self) -> int:
        return listen_address(self.listen or "127.0.0.1:8080")[1]


def listen_address(value: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[v6]:PORT"``) → (host, port); ValueError saying what is wrong."""
    host, colon, port_text = value.strip().rpartition(":")
    if not colon or not host or not port_text.isdigit():
        raise ValueError(f'{quoted(value)} is not HOST:PORT; write e.g. "127.0.0.1:8080"')
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not between 0 and 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


class OrdersSettings(_Strict):
    """``[orders]``: the shop's drop folder for orders, polled by ``ftpbridge run``."""

    inbox: Path | None = None
    """A local folder; JSON Lines or a Topspin View Orders response (``{"response": [...]}``)
    files put there are loaded once settled and moved to ``done/`` or ``errors/``."""
    poll_interval: float = Field(60, gt=0)
    settle_seconds: float = Field(10, ge=0)
    max_file_bytes: int = Field(200_000_000, ge=1)


def credential_path(name: str) -> Path | None:
    """``$CREDENTIALS_DIRECTORY/<name>`` (or ``ftpbridge_<name>``, as the unit's directory
    LoadCredential= names it) when it exists; None outside systemd or when it is absent."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if not credentials or not name or "/" in name:
        return None
    for candidate in (Path(credentials) / name, Path(credentials) / (CREDENTIAL_PREFIX + name)):
        if candidate.is_file():
            return candidate
    return None
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


def _read_secret(
    path: Path | None, credential_name: str, base_dir: Path | None = None
) -> str | None:
    candidates: list[Path] = []
    if path is not None:
        path = path.expanduser()
        found = None if path.is_absolute() else credential_path(str(path))
        if found is not None:
            candidates.append(found)
        # Like every other path in the config: relative to the config file's folder.
        candidates.append(_absolute(path, base_dir) if base_dir is not None else path)
    else:
        found = credential_path(credential_name)
        if found is not None:
            candidates.append(found)
    for candidate in candidates:
        try:
            return candidate.read_text(encoding="utf-8").rstrip("\r\n")
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(
                f"cannot read the secret file {candidate}: {exc.strerror}",
                hint="check the file's permissions (the service user must be able to read it)",
            ) from None
    if path is not None:
        raise ConfigError(f"the secret file {candidates[-1]} does not exist")
    return None


class _EnvironmentForFilePartners(PydanticBaseSettingsSource):
    """The environment source, with partner names matched to the file's spelling.

    Environment names are case-insensitive (FTPBRIDGE_PARTNERS__ACME__PASSWORD arrives as
    partner "acme"); without this, an override for a partner the file calls "Acme" would
    land on a new, empty partner "acme" and never reach "Acme".
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        environment: PydanticBaseSettingsSource,
        init: PydanticBaseSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self._environment = environment
        self._init = init

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ does the work

    def __call__(self) -> dict[str, Any]:
        data = self._environment()
        from_environment = data.get("partners")
        from_file = getattr(self._init, "init_kwargs", {}).get("partners")
        if isinstance(from_environment, dict) and isinstance(from_file, dict):
            spelling = {name.casefold(): name for name in from_file}
            data["partners"] = {
                spelling.get(name.casefold(), name): table
                for name, table in from_environment.items()
            }
        return data


class Settings(BaseSettings):
    """The whole configuration. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    store: StoreSettings = StoreSettings()
    daemon: DaemonSettings = DaemonSettings()
    partners: dict[str, PartnerSettings] = Field(default_factory=dict)
    api: ApiSettings = ApiSettings()
    orders: OrdersSettings = OrdersSettings()
    notify: NotifySettings = NotifySettings()
    schemas_dir: Path | None = None
    config_path: Path | None = Field(None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file (passed in as init kwargs).
        return (
            _EnvironmentForFilePartners(settings_cls, env_settings, init_settings),
            init_settings,
        )

    @field_validator("partners", mode="before")
    @classmethod
    def _usable_partner_names(cls, value: Any) -> Any:
        """Partner names become file and lock names: refuse those that cannot be one."""
        if isinstance(value, dict):
            bad = [str(name) for name in value if not PARTNER_NAME.fullmatch(str(name))]
            if bad:
                raise ValueError(
                    "; ".join(f"[partners.{json_quoted(name)}]" for name in bad)
                    + ": a partner name may hold only letters, digits, '-', '_' and '.'"
                    " (not first), at most 64 characters; rename the table,"
                    " e.g. [partners.acme-eu]"
                )
        return value

    @model_validator(mode="after")
    def _partners_consistent(self) -> Settings:
        defaults = [name for name, partner in self.partners.items() if partner.default]
        if len(defaults) > 1:
            raise ValueError(f"partners {', '.join(defaults)} all say default = true; only one may")
        emailing = [name for name, partner in self.partners.items() if partner.notify_customers]
        if emailing and self.notify.email.host is None:
            raise ValueError(
                f"partners {', '.join(emailing)}: notify_customers = true needs [notify.email]"
                " host and from (the SMTP server that sends the e-mails)"
            )
        return self

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the config are taken from."""
        return self.config_path.parent if self.config_path else Path.cwd()

    @property
    def state_dir(self) -> Path:
        if self.daemon.state_dir is not None:
            return _absolute(self.daemon.state_dir, self.base_dir)
        if os.environ.get("STATE_DIRECTORY"):
            # systemd may pass several, colon-separated; the first is ours.
            return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
        return self.base_dir / "state"

    @property
    def store_url(self) -> str:
        """The store URL (``[store] url``, else the credential ``store-url``, else SQLite
        ``ftpbridge.db`` in the state directory), a relative SQLite path made absolute."""
        url = self.store.url.get_secret_value() if self.store.url else None
        if url is None:
            url = _read_secret(None, "store-url")
        if url is None:
            return f"sqlite:///{self.state_dir / 'ftpbridge.db'}"
        url = url.strip()
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
            rest = url[len(prefix) :]
            if rest and rest != ":memory:":
                return prefix + str(_absolute(Path(rest), self.base_dir))
        return url

    def partner(self, name: str) -> PartnerSettings:
        """The named partner, or a usage error listing the configured ones."""
        try:
            return self.partners[name]
        except KeyError:
            import difflib

            known = ", ".join(sorted(self.partners)) or "none"
            close = difflib.get_close_matches(name, list(self.partners), n=1, cutoff=0.6)
            raise ConfigError(
                f"no partner named {quoted(name)} in {self.config_path or 'the configuration'}"
                f" (configured: {known})"
                + (f"; did you mean {quoted(close[0])}?" if close else ""),
                hint=f"--partner {close[0]}"
                if close
                else "add a [partners.NAME] table to the config file",
            ) from None

    def resolve(self, path: Path | None) -> Path | None:
        """A path from the config, relative to the config file's folder."""
        return None if path is None else _absolute(path, self.base_dir)


def json_quoted(text: str) -> str:
    """``text`` as a TOML basic string would quote it (control characters escaped)."""
    import json

    return json.dumps(text)
def _relative_to(path: Path | None, base: Path | None) -> Path | None:
    if path is None:
        return None
    return _absolute(path, base) if base is not None else path.expanduser()


def _absolute(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base / path


def config_path_from(cli_value: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """Where the config file is, and whether it was named explicitly."""
    if cli_value is not None:
        return Path(cli_value), True
    env = os.environ.get("FTPBRIDGE_CONFIG")
    if env:
        return Path(env), True
    return DEFAULT_CONFIG, False


def load_settings(
    path: str | os.PathLike[str] | None = None, *, required: bool = False
) -> Settings:
    """Read, merge and validate the configuration.

    ``path`` is the ``--config`` value (None: ``$FTPBRIDGE_CONFIG``, else ``./config.toml``).
    A config file named explicitly must exist; ``./config.toml`` may be absent unless
    ``required`` (then the built-in defaults apply, with no partners).

    Raises :class:`ConfigError` naming the file and every key that is wrong.
    """
    config_path, explicit = config_path_from(path)
    data: dict[str, Any] = {}
    if config_path.exists():
        try:
            with config_path.open("rb") as handle:
                data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{config_path} is not valid TOML: {exc}",
                hint="compare it with config.example.toml; strings need quotes",
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot read the config file {config_path}: {exc.strerror}"
            ) from None
    elif explicit or required:
        raise ConfigError(
            f"the config file {config_path} does not exist",
            hint="ftpbridge config example > config.toml, then edit it; or pass --config PATH",
        )
    if data:
        _warn_if_secrets_readable(config_path, data)
    return build_settings(data, config_path=config_path.resolve() if config_path.exists() else None)


def _warn_if_secrets_readable(path: Path, data: dict[str, Any]) -> None:
    """Warn (once per load) when the config file holds a password and anyone on the
    machine may read it (issue 12): the keys are named, never their values."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if not mode & stat.S_IROTH:
        return
    keys = _secret_keys(data)
    if keys:
        structlog.get_logger().warning(
            f"the config file {path} holds a secret and anyone on this machine can read it"
            f" (mode {stat.S_IMODE(mode):04o}): chmod o-r {path}, or move the secret to a"
            " *_file key or a systemd credential",
            keys=keys,
        )


def _secret_keys(data: dict[str, Any]) -> list[str]:
    """The keys of ``data`` (a parsed config) that hold a secret's value."""
    found = []
    url = (data.get("store") or {}).get("url") if isinstance(data.get("store"), dict) else None
    if isinstance(url, str) and re.search(r"://[^/@\s]*:[^/@\s]*@|[?&]password=", url):
        found.append("[store] url")
    partners = data.get("partners")
    for name, table in (partners.items() if isinstance(partners, dict) else []):
        if isinstance(table, dict):
            found += [
                f"[partners.{name}] {key}"
                for key in ("password", "private_key_passphrase")
                if table.get(key)
            ]
    return found


def build_settings(data: dict[str, Any], *, config_path: Path | None = None) -> Settings:
    """Validate an already parsed configuration (the TOML tables as a dict)."""
    partners = data.get("partners")
    if isinstance(partners, dict):
        for name, table in partners.items():
            if isinstance(table, dict):
                table.setdefault("name", name)
    where = str(config_path) if config_path else "the configuration"
    try:
        settings = Settings(**data, config_path=config_path)
    except ValidationError as exc:
        overrides = _environment_keys()
        problems = [_describe(error, overrides) for error in exc.errors()]
        blamed = [problem for problem in problems if problem.startswith(ENV_PREFIX)]
        if blamed and len(blamed) == len(problems):
            where = "the environment"
        elif blamed:
            where = f"{where} and the environment"
        verb = "have" if where.endswith(" and the environment") else "has"
        raise ConfigError(
            f"{where} {verb} {plural(exc.error_count(), 'problem')}:",
            problems=problems,
            hint="see config.example.toml (ftpbridge config example) for every key, its type"
            " and its default"
            + ("; unset or fix the environment variables named" if blamed else ""),
        ) from None
    # The partner name comes from the table's key; environment-only partners get it too.
    fixed = {
        name: partner if partner.name == name else partner.model_copy(update={"name": name})
        for name, partner in settings.partners.items()
    }
    base_dir = settings.base_dir if config_path is not None else None
    for partner in fixed.values():
        partner._base_dir = base_dir
    # Copies: the defaults are shared instances, and the folder belongs to this config.
    email = settings.notify.email.model_copy()
    email._base_dir = base_dir
    notify = settings.notify.model_copy(update={"email": email})
    notify._base_dir = base_dir
    return settings.model_copy(update={"partners": fixed, "notify": notify})


# What pydantic says (``error["type"]``), as a person would say it.
_TYPE_WORDS = {
    "tuple_type": 'must be a list, e.g. ["ACME-*", "55*"]',
    "list_type": 'must be a list, e.g. ["ACME-*", "55*"]',
    "bool_type": "must be true or false (no quotes)",
    "bool_parsing": "must be true or false (no quotes)",
    "int_type": "must be a whole number (no quotes)",
    "int_parsing": "must be a whole number (no quotes)",
    "int_from_float": "must be a whole number (no quotes)",
    "float_type": "must be a number (no quotes)",
    "float_parsing": "must be a number (no quotes)",
    "string_type": "must be text in quotes",
    "path_type": "must be a path in quotes",
    "dict_type": "must be a table ([section] or { key = value })",
    "model_type": "must be a table ([section] or { key = value })",
    "model_attributes_type": "must be a table ([section] or { key = value })",
    "missing": "is required",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "greater_than": ("gt", "must be more than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "less_than": ("lt", "must be less than {}"),
}


def _environment_keys() -> dict[tuple[str, ...], str]:
    """The config keys the environment overrides (lower case) → the variable's name."""
    keys = {}
    for name in os.environ:
        if name.upper().startswith(ENV_PREFIX) and name.upper() != "FTPBRIDGE_CONFIG":
            path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
            keys[path] = name
    return keys


def _describe(error: Any, overrides: dict[tuple[str, ...], str] | None = None) -> str:
    """One problem, named by its key (or by the environment variable that set it), in
    words for people: no pydantic wording, the value as it was given."""
    parts = tuple(str(part) for part in error["loc"])
    location = ".".join(parts) or "(top level)"
    from_environment = False
    for length in range(len(parts), 0, -1):
        variable = (overrides or {}).get(tuple(part.lower() for part in parts[:length]))
        if variable is not None:
            location = f"{variable} (environment variable, for {location})"
            from_environment = True
            break
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{location}: unknown key{_suggestion(parts)}"
    context = error.get("ctx") or {}
    if kind in _TYPE_WORDS:
        message = _TYPE_WORDS[kind]
    elif kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = context.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        message = words.format(bound)
    elif kind == "literal_error":
        message = f"must be {context.get('expected', 'one of the values listed in the example')}"
    else:
        message = str(error["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        message = message.replace("Input should be", "must be")
    if from_environment:
        message = message.replace(" (no quotes)", "").replace(" in quotes", "")
    given = error.get("input")
    if (
        kind != "missing"
        and isinstance(given, str | int | float | bool)
        and "Value error" not in (error["msg"])
    ):
        shown = str(given).lower() if isinstance(given, bool) else given
        message += f" (it is {quoted(shown)})"
    return f"{location}: {message}"


def _suggestion(parts: tuple[str, ...]) -> str:
    """ " (did you mean 'host'?)" for an unknown key close to a known one, else a pointer
    to the example."""
    import difflib

    model: Any = Settings
    for depth, part in enumerate(parts[:-1]):
        if model is Settings and part == "partners" and depth == 0:
            model = PartnerSettings
            continue
        if model is PartnerSettings and depth == 1:
            continue  # the partner's name
        field = getattr(model, "model_fields", {}).get(part)
        annotation = getattr(field, "annotation", None)
        model = annotation if isinstance(annotation, type) else None
        if model is None:
            break
    known: list[str] = []
    if model is not None:
        for name, field in getattr(model, "model_fields", {}).items():
            if name in ("name", "config_path"):
                continue
            known.append(field.alias or name)
    close = difflib.get_close_matches(parts[-1] if parts else "", known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {quoted(close[0])}?)"
    return " (check its spelling against config.example.toml)"
