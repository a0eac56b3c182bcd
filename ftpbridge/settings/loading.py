"""Loading the configuration: where the file is (``--config``, ``$FTPBRIDGE_CONFIG``,
``./config.toml``), the TOML read, the environment merged and everything validated at once
(:func:`load_settings`, :func:`build_settings`), every problem reported in one error."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ftpbridge.errors import ConfigError
from ftpbridge.settings.credentials import _warn_if_secrets_readable
from ftpbridge.settings.messages import _describe, _environment_keys
from ftpbridge.settings.root import ENV_PREFIX, Settings
from ftpbridge.wording import plural

DEFAULT_CONFIG = Path("config.toml")


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
