"""Secrets: where each one may come from besides the config file (a ``*_file`` key, the
systemd credentials in ``$CREDENTIALS_DIRECTORY``, named once in :data:`CREDENTIALS`), how it
is read, and the warning when the config file holds one that anyone on the machine may read.

A secret's value is never part of a message here: only the key, the file or the credential.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import structlog

from ftpbridge.errors import ConfigError
from ftpbridge.logs import redact_url
from ftpbridge.settings.base import _absolute

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
    """The keys of ``data`` (a parsed config) that hold a secret's value: every SecretStr
    of the settings models (``[store] url``, ``[notify] webhook_secret``, ``[notify.email]
    password``, a partner's ``password`` and ``private_key_passphrase``), and a URL holding
    a password or a secret-looking query value (``[notify] webhook_url``)."""

    def table(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    def holds_secret(url: Any) -> bool:
        return isinstance(url, str) and redact_url(url) != url

    store, notify = table(data.get("store")), table(data.get("notify"))
    email = table(notify.get("email"))
    found = []
    if holds_secret(store.get("url")):
        found.append("[store] url")
    if holds_secret(notify.get("webhook_url")):
        found.append("[notify] webhook_url")
    if notify.get("webhook_secret"):
        found.append("[notify] webhook_secret")
    if email.get("password"):
        found.append("[notify.email] password")
    for name, partner in table(data.get("partners")).items():
        found += [
            f"[partners.{name}] {key}"
            for key in ("password", "private_key_passphrase")
            if table(partner).get(key)
        ]
    return found
