"""The ``config`` commands: the example config, and a check of one with its values in effect.

``config example`` prints config.example.toml as shipped in the package (an installed
ftpbridge has no checkout to copy it from). ``config check`` validates a config as every
command does, then shows the values in effect (file, environment, defaults) with secrets
masked, where each secret comes from, and what would fail later (a key file missing): as
TOML on standard output, the verdict and warnings on standard error.
"""

from __future__ import annotations

import json
import math
import os
import re
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
    """Validate the config and show the values in effect, secrets masked.

    Standard output is TOML (``config check > effective.toml`` reads back with any TOML
    reader); the verdict and the warnings go to standard error."""
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
        err=True,
    )


def describe(settings: Settings) -> list[str]:
    """The values in effect as TOML (``tomllib`` reads it back): every section and
    partner as a table, a nested section as its own table (``[notify.email]``); a secret as
    ``"**********"`` with where it comes from; a URL's password and secret-looking query
    values hidden; a key not set left out, as a comment saying what applies instead."""
    from ftpbridge.logs import redact_url

    lines = [
        f"# config file: {settings.config_path or '(none: defaults and the environment)'}",
        f"# state folder: {settings.state_dir}",
        f"# store: {redact_url(settings.store_url)} ({_store_source(settings)})",
        "",
    ]
    data = settings.model_dump(mode="json", by_alias=True, exclude={"config_path"})
    partners = data.pop("partners", {})
    secrets = _secret_lines(settings)
    defaults = _defaults(settings)
    # Top-level keys first: in TOML a key after a [table] header belongs to that table.
    scalars = {key: value for key, value in data.items() if not isinstance(value, dict)}
    lines += _keys((), scalars, secrets, defaults)
    if scalars:
        lines.append("")
    for section, values in data.items():
        if isinstance(values, dict):
            lines += _table((section,), values, secrets, defaults)
    for name, values in partners.items():
        values.pop("name", None)
        lines += _table(("partners", name), values, secrets, defaults)
    return lines


def _table(
    path: tuple[str, ...],
    values: dict[str, Any],
    secrets: dict[tuple[str, ...], dict[str, str | None]],
    defaults: dict[tuple[str, ...], str],
) -> list[str]:
    """``[path]`` with its keys, then each nested section as a table of its own."""
    lines = [f"[{'.'.join(_key(part) for part in path)}]"]
    plain = {key: value for key, value in values.items() if not isinstance(value, dict)}
    lines += _keys(path, plain, secrets, defaults)
    lines.append("")
    for key, value in values.items():
        if isinstance(value, dict):
            lines += _table((*path, key), value, secrets, defaults)
    return lines


def _keys(
    path: tuple[str, ...],
    values: dict[str, Any],
    secrets: dict[tuple[str, ...], dict[str, str | None]],
    defaults: dict[tuple[str, ...], str],
) -> list[str]:
    """One line per key: a secret's (masked, with its source; None: a key it replaces,
    such as ``password_file``, left out), else the value, else a comment when not set."""
    lines = []
    special = secrets.get(path, {})
    for key, value in values.items():
        if key in special:
            line = special[key]
            if line is not None:
                lines.append(line)
        elif value is None:
            lines.append(f"# {key}: not set ({defaults.get((*path, key), 'its default applies')})")
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    return lines


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(name: str) -> str:
    """A TOML key: bare when it can be, else quoted."""
    return name if _BARE_KEY.fullmatch(name) else _string(name)


def _string(text: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's; DEL is one TOML wants escaped too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    """A TOML value for what ``model_dump(mode="json")`` gives (no None: left out above);
    a string through the URL redaction (a webhook's token, a URL's password)."""
    from ftpbridge.logs import redact_url

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(redact_url(value))
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value if item is not None) + "]"
    if isinstance(value, dict):
        inner = (f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(inner) + "}"
    return _string(str(value))


def _defaults(settings: Settings) -> dict[tuple[str, ...], str]:
    """What applies instead of a key left unset, where that is worth saying."""
    email = settings.notify.email
    found = {
        ("daemon", "state_dir"): f"default: {settings.state_dir}",
        ("store", "url"): "default: ftpbridge.db in the state folder",
        ("api", "listen"): "ftpbridge run serves no HTTP",
        ("notify", "webhook_url"): "no webhook",
        ("notify", "email", "host"): "no e-mails to customers",
        ("notify", "email", "port"): f"default: {email.effective_port}",
        (
            "notify",
            "email",
            "starttls",
        ): f"default: {'true' if email.uses_starttls else 'false'}",
        ("schemas_dir",): "the built-in layouts",
    }
    ports = {"ftp": 21, "ftps": 21, "sftp": 22}
    for partner in settings.partners.values():
        if partner.transport in ports:
            found[("partners", partner.name, "port")] = f"default: {ports[partner.transport]}"
        if partner.stale_after is None:
            found[("partners", partner.name, "stale_after")] = (
                f"default: {partner.stale_seconds:g} seconds"
            )
    return found


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


def _secret_lines(settings: Settings) -> dict[tuple[str, ...], dict[str, str | None]]:
    """Per table, its secrets' lines (masked, with where each comes from) and the
    ``*_file`` keys they replace (None: left out, the secret's line names the file)."""
    notify, email = settings.notify, settings.notify.email
    store = settings.store.url
    found: dict[tuple[str, ...], dict[str, str | None]] = {
        ("store",): {
            "url": f'url = "{MASK}"  # {_store_source(settings)}, shown above with its'
            " password hidden"
            if store is not None
            else None
        },
        ("notify",): {
            "webhook_secret": _secret_line(
                "webhook_secret",
                ("notify", "webhook_secret"),
                notify.webhook_secret,
                notify.webhook_secret_file,
                "webhook-secret",
            ),
            "webhook_secret_file": None,
        },
        ("notify", "email"): {
            "password": _secret_line(
                "password",
                ("notify", "email", "password"),
                email.password,
                email.password_file,
                "smtp-password",
            ),
            "password_file": None,
        },
    }
    if store is None:
        found[("store",)]["url"] = "# url: not set (default: ftpbridge.db in the state folder)"
    for partner in settings.partners.values():
        found[("partners", partner.name)] = _partner_secrets(partner)
    return found


def _secret_line(
    key: str,
    variable_path: tuple[str, ...],
    configured: Any,
    file_key: Path | None,
    credential: str,
) -> str:
    """``key = "**********"  # from ...``, or a comment when it is not set anywhere."""
    variable = _from_environment(*variable_path)
    if variable:
        return f'{key} = "{MASK}"  # from the environment variable {variable}'
    if configured is not None:
        return f'{key} = "{MASK}"  # in the config file (readable by whoever reads it)'
    if file_key is not None:
        return f'{key} = "{MASK}"  # from the file {file_key}'
    if credential_path(credential) is not None:
        return f'{key} = "{MASK}"  # from the credential {credential}'
    return f"# {key}: not set (also read from the credential {credential})"


def _partner_secrets(partner: PartnerSettings) -> dict[str, str | None]:
    """password, private_key, private_key_passphrase: masked, with their source."""
    lines: dict[str, str | None] = {"password_file": None, "private_key_passphrase_file": None}
    for key, configured, file_key in (
        ("password", partner.password, partner.password_file),
        (
            "private_key_passphrase",
            partner.private_key_passphrase,
            partner.private_key_passphrase_file,
        ),
    ):
        credential = f"{partner.name}-{key.replace('_', '-')}"
        lines[key] = _secret_line(
            key, ("partners", partner.name, key), configured, file_key, credential
        )
    key_file = partner.key_file()
    if partner.private_key is not None:
        lines["private_key"] = f"private_key = {_string(str(key_file))}"
    elif key_file is not None:
        lines["private_key"] = (
            f"private_key = {_string(str(key_file))}  # the credential {partner.name}-private-key"
        )
    else:
        lines["private_key"] = (
            f"# private_key: not set (also read from the credential {partner.name}-private-key)"
        )
    return lines


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
