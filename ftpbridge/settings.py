"""Configuration: one TOML file, environment overrides, validated once at the edge.

Where the file comes from: ``--config PATH``, else ``$FTPBRIDGE_CONFIG``, else ``./config.toml``.
Every key can be overridden by an environment variable ``FTPBRIDGE_<SECTION>__<KEY>``, e.g.
``FTPBRIDGE_STORE__URL`` or ``FTPBRIDGE_PARTNERS__ACME__PASSWORD``. Secrets may also come
from files: ``password_file`` / ``private_key_passphrase_file``, and from systemd credentials
(``LoadCredential=``): a file named ``<partner>-password`` or
``<partner>-private-key-passphrase`` in ``$CREDENTIALS_DIRECTORY``.

The result is a frozen :class:`Settings`; the CLI builds it and passes down the slice each
piece needs. Unknown keys and wrong types are reported all at once, each naming its key.

Longer than 400 lines on purpose: the whole config schema (every section's model with the
checks of its keys) and how it is loaded read as one document, in the order of
config.example.toml; a split would scatter one file's keys over several modules.
"""

from __future__ import annotations

import codecs
import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

ENV_PREFIX = "FTPBRIDGE_"
DEFAULT_CONFIG = Path("config.toml")

TransportKind = Literal["ftp", "ftps", "sftp", "local"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StoreSettings(_Strict):
    """``[store]``: where orders, the file ledger and the audit trail live."""

    url: SecretStr | None = None
    """SQLAlchemy URL. Default: ``sqlite:///ftpbridge.db`` in the state directory. A
    relative SQLite path is taken relative to the config file's folder."""


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

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/London' or 'UTC'"
            ) from None
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}: use e.g. 'utf-8' or 'cp1252'") from None
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
            raise ValueError(f"transport = {self.transport!r} needs 'host'")
        if self.transport == "local" and self.path is None:
            raise ValueError("transport = 'local' needs 'path' (the directory to exchange through)")
        if self.password is not None and self.password_file is not None:
            raise ValueError("set 'password' or 'password_file', not both")
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
        raise ValueError(f"{value!r} is not HOST:PORT; write e.g. \"127.0.0.1:8080\"")
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


def _read_secret(
    path: Path | None, credential_name: str, base_dir: Path | None = None
) -> str | None:
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    candidates: list[Path] = []
    if path is not None:
        path = path.expanduser()
        if not path.is_absolute() and credentials:
            candidates.append(Path(credentials) / path)
        # Like every other path in the config: relative to the config file's folder.
        candidates.append(_absolute(path, base_dir) if base_dir is not None else path)
    elif credentials:
        candidates.append(Path(credentials) / credential_name)
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

    @model_validator(mode="after")
    def _partners_consistent(self) -> Settings:
        defaults = [name for name, partner in self.partners.items() if partner.default]
        if len(defaults) > 1:
            raise ValueError(f"partners {', '.join(defaults)} all say default = true; only one may")
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
        """The store URL, with a relative SQLite path made absolute."""
        url = self.store.url.get_secret_value() if self.store.url else None
        if url is None:
            return f"sqlite:///{self.state_dir / 'ftpbridge.db'}"
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
            known = ", ".join(sorted(self.partners)) or "none"
            raise ConfigError(
                f"no partner named {name!r} in {self.config_path or 'the configuration'}"
                f" (configured: {known})",
                hint="add a [partners.NAME] table to the config file",
            ) from None

    def resolve(self, path: Path | None) -> Path | None:
        """A path from the config, relative to the config file's folder."""
        return None if path is None else _absolute(path, self.base_dir)


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
            hint="copy config.example.toml to config.toml and edit it, or pass --config PATH",
        )
    return build_settings(data, config_path=config_path.resolve() if config_path.exists() else None)


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
        raise ConfigError(
            f"{where} has {exc.error_count()} problem(s):",
            problems=[_describe(error) for error in exc.errors()],
            hint="see config.example.toml for every key, its type and its default",
        ) from None
    # The partner name comes from the table's key; environment-only partners get it too.
    fixed = {
        name: partner if partner.name == name else partner.model_copy(update={"name": name})
        for name, partner in settings.partners.items()
    }
    for partner in fixed.values():
        partner._base_dir = settings.base_dir if config_path is not None else None
    return settings.model_copy(update={"partners": fixed})


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{location}: unknown key (check its spelling against config.example.toml)"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return f"{location}: {message}"
