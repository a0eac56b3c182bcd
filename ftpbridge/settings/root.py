""":class:`Settings`: the whole configuration, the root every section hangs from; its
sources (the environment over the file, partner names matched to the file's spelling), the
checks across sections, and the paths derived from it (state folder, store URL)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ftpbridge.errors import ConfigError
from ftpbridge.settings.base import _absolute
from ftpbridge.settings.credentials import _read_secret
from ftpbridge.settings.notify import NotifySettings
from ftpbridge.settings.partners import PARTNER_NAME, PartnerSettings
from ftpbridge.settings.sections import (
    ApiSettings,
    DaemonSettings,
    OrdersSettings,
    StoreSettings,
)
from ftpbridge.wording import quoted

ENV_PREFIX = "FTPBRIDGE_"


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
