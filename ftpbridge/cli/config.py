"""The ``config`` commands: the example config, and a check of one with its values in effect.

``config example`` prints config.example.toml as shipped in the package (an installed
ftpbridge has no checkout to copy it from). ``config check`` validates a config as every
command does, then shows the values in effect (file, environment, defaults) with secrets
masked, where each secret comes from, and what would fail later (a key file missing).
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import click

from ftpbridge.cli.app import Context, friendly_errors, main, pass_state
from ftpbridge.settings import (
    ENV_PREFIX,
    PartnerSettings,
    Settings,
    credential_path,
)

MASK = "**********"


@main.group("config")
def config_group() -> None:
    """The configuration: an example to start from, and a check of yours."""


@config_group.command("example")
@friendly_errors
def config_example() -> None:
    """Print config.example.toml (every key, its default and what it does)."""
    text = resources.files("ftpbridge._examples").joinpath("config.example.toml")
    sys.stdout.write(text.read_text(encoding="utf-8"))


@config_group.command("check")
@pass_state
@friendly_errors
def config_check(state: Context) -> None:
    """Validate the config and show the values in effect, secrets masked."""
    settings = state.settings  # raises ConfigError listing every problem (exit 2)
    for line in describe(settings):
        click.echo(line)
    warnings = list(_warnings(settings))
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(
        f"The config is valid ({len(settings.partners)} partner"
        f"{'' if len(settings.partners) == 1 else 's'})"
        + (
            f"; {len(warnings)} warning{'' if len(warnings) == 1 else 's'} above."
            if warnings
            else "."
        ),
    )


def describe(settings: Settings) -> list[str]:
    """The values in effect as TOML-like lines: every section, every partner; secrets as
    ``**********`` with where they come from."""
    from ftpbridge.logs import redact_url

    lines = [
        f"# config file: {settings.config_path or '(none: defaults and the environment)'}",
        f"# state folder: {settings.state_dir}",
        f"# store: {redact_url(settings.store_url)} ({_store_source(settings)})",
        "",
    ]
    data = settings.model_dump(mode="json", by_alias=True, exclude={"config_path"})
    partners = data.pop("partners", {})
    for section, values in data.items():
        if isinstance(values, dict):
            lines.append(f"[{section}]")
            lines += [_line(key, value) for key, value in values.items()]
            lines.append("")
        else:
            lines.append(_line(section, values))
    for name, values in partners.items():
        partner = settings.partners[name]
        lines.append(f"[partners.{_key(name)}]")
        values.pop("name", None)
        secrets = _secret_sources(partner)
        for key, value in values.items():
            if key in secrets or key in ("password_file", "private_key_passphrase_file"):
                continue
            lines.append(_line(key, value))
        for key, source in secrets.items():
            lines.append(f"{key} = {source}")
        lines.append("")
    return lines


def _key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else f'"{name}"'


def _line(key: str, value: Any) -> str:
    import json

    if value is None:
        return f"# {key} = (not set)"
    if isinstance(value, bool):
        return f"{key} = {'true' if value else 'false'}"
    return f"{key} = {json.dumps(value, ensure_ascii=False)}"


def _from_environment(*path: str) -> str | None:
    wanted = (ENV_PREFIX + "__".join(path)).upper()
    return next((name for name in os.environ if name.upper() == wanted), None)


def _store_source(settings: Settings) -> str:
    variable = _from_environment("store", "url")
    if variable:
        return f"from the environment variable {variable}"
    if settings.store.url is not None:
        return "[store] url in the config"
    if credential_path("store-url") is not None:
        return "from the credential store-url"
    return "the default: ftpbridge.db in the state folder"


def _secret_sources(partner: PartnerSettings) -> dict[str, str]:
    """password, private_key, private_key_passphrase: masked, with their source."""
    sources: dict[str, str] = {}
    for key, credential, configured, file_key in (
        ("password", f"{partner.name}-password", partner.password, partner.password_file),
        (
            "private_key_passphrase",
            f"{partner.name}-private-key-passphrase",
            partner.private_key_passphrase,
            partner.private_key_passphrase_file,
        ),
    ):
        variable = _from_environment("partners", partner.name, key)
        if variable:
            sources[key] = f"{MASK}  # from the environment variable {variable}"
        elif configured is not None:
            sources[key] = f"{MASK}  # in the config file (readable by whoever reads it)"
        elif file_key is not None:
            sources[key] = f"{MASK}  # from the file {file_key}"
        elif credential_path(credential) is not None:
            sources[key] = f"{MASK}  # from the credential {credential}"
        else:
            sources[key] = f"(not set; also read from the credential {credential})"
    key_file = partner.key_file()
    if partner.private_key is not None:
        sources["private_key"] = f'"{key_file}"'
    elif key_file is not None:
        sources["private_key"] = f'"{key_file}"  # the credential {partner.name}-private-key'
    else:
        sources["private_key"] = (
            f"(not set; also read from the credential {partner.name}-private-key)"
        )
    return sources


def _warnings(settings: Settings) -> list[str]:
    """What a valid config still gets wrong: files it names that are not there."""
    found = []
    for partner in settings.partners.values():
        where = f"[partners.{partner.name}]"
        key = partner.key_file()
        if partner.transport == "sftp":
            if key is not None and not Path(key).exists():
                found.append(f"{where} private_key {key} does not exist")
            known = settings.resolve(partner.known_hosts)
            if known is not None and not known.exists():
                found.append(
                    f"{where} known_hosts {known} does not exist; add the server's key with"
                    f" ftpbridge check --partner {partner.name} --trust-host-key"
                )
            if (
                key is None
                and partner.password is None
                and partner.password_file is None
                and (
                    credential_path(f"{partner.name}-password") is None
                    and _from_environment("partners", partner.name, "password") is None
                )
            ):
                found.append(f"{where} has neither a password nor a private key")
        path = settings.resolve(partner.ca_file)
        if path is not None and not path.exists():
            found.append(f"{where} ca_file {path} does not exist")
    return found
