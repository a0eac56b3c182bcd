"""``[partners.NAME]``: one fulfiller's settings (files, transport, schedule, the bounds on
what its server may cost, notifications, inventory) with the checks of its keys, and where
its secrets come from."""

from __future__ import annotations

import codecs
import posixpath
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from ftpbridge.settings.base import _absolute, _Strict
from ftpbridge.settings.credentials import _read_secret, credential_path
from ftpbridge.wording import quoted

TransportKind = Literal["ftp", "ftps", "sftp", "local"]

# Issue 12: the defaults of the bounds on what a partner's server may cost.
DEFAULT_MIN_RATE_BYTES = 10_000  # 80 kbit/s: slower than any line a partner still uses
DEFAULT_MAX_LISTING_ENTRIES = 50_000
# A partner's name becomes part of local paths and lock names: letters, digits, "-", "_"
# and "." (not first), 64 characters at most.
PARTNER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


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
