"""The service's own sections: ``[store]`` (the database), ``[daemon]`` (the service as a
whole), ``[api]`` (the HTTP service, with :func:`listen_address`) and ``[orders]`` (the
shop's drop folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from ftpbridge.settings.base import _Strict
from ftpbridge.wording import quoted


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
    """A request's head must arrive (from its first byte, or from the connection for its
    first request), then its body, and its database work finish, each within this time."""
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
    if not colon or not host or not (port_text.isascii() and port_text.isdigit()):
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
