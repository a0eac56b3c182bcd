"""Configuration: one TOML file, environment overrides, validated once at the edge.

Where the file comes from: ``--config PATH``, else ``$FTPBRIDGE_CONFIG``, else ``./config.toml``.
Every key can be overridden by an environment variable ``FTPBRIDGE_<SECTION>__<KEY>``, e.g.
``FTPBRIDGE_STORE__URL`` or ``FTPBRIDGE_PARTNERS__ACME__PASSWORD``. Secrets may also come
from files (``password_file`` / ``private_key_passphrase_file``) and from systemd
credentials (``LoadCredential=``), named once in :data:`CREDENTIALS` and read here only.

The result is a frozen :class:`Settings`; the CLI builds it and passes down the slice each
piece needs. Unknown keys and wrong types are reported all at once, each naming its key.

The rooms, each owning one thing:

- ``base``: the strict model every section is built on, paths relative to the config file;
- ``credentials``: :data:`CREDENTIALS`, secrets from files and systemd credentials, the
  warning when the config file holds a secret anyone may read;
- ``partners``: ``[partners.NAME]`` (:class:`PartnerSettings`) and its checks;
- ``sections``: ``[store]``, ``[daemon]``, ``[api]``, ``[orders]``;
- ``notify``: ``[notify]`` and ``[notify.email]``;
- ``root``: :class:`Settings`, the whole, its sources and its checks across sections;
- ``messages``: pydantic's errors in words for people;
- ``loading``: :func:`load_settings` and :func:`build_settings`.

This module is the public surface (every caller imports from ``ftpbridge.settings``); the
others are free to change behind it.
"""

from ftpbridge.settings.credentials import CREDENTIAL_PREFIX, CREDENTIALS, credential_path
from ftpbridge.settings.loading import (
    DEFAULT_CONFIG,
    build_settings,
    config_path_from,
    load_settings,
)
from ftpbridge.settings.notify import (
    EmailSettings,
    NotifySettings,
    duration_seconds,
    plain_address,
)
from ftpbridge.settings.partners import (
    DEFAULT_MAX_LISTING_ENTRIES,
    DEFAULT_MIN_RATE_BYTES,
    PARTNER_NAME,
    PartnerSettings,
    TransportKind,
)
from ftpbridge.settings.root import ENV_PREFIX, Settings, json_quoted
from ftpbridge.settings.sections import (
    ApiSettings,
    DaemonSettings,
    OrdersSettings,
    StoreSettings,
    listen_address,
)

__all__ = [
    "CREDENTIALS",
    "CREDENTIAL_PREFIX",
    "DEFAULT_CONFIG",
    "DEFAULT_MAX_LISTING_ENTRIES",
    "DEFAULT_MIN_RATE_BYTES",
    "ENV_PREFIX",
    "PARTNER_NAME",
    "ApiSettings",
    "DaemonSettings",
    "EmailSettings",
    "NotifySettings",
    "OrdersSettings",
    "PartnerSettings",
    "Settings",
    "StoreSettings",
    "TransportKind",
    "build_settings",
    "config_path_from",
    "credential_path",
    "duration_seconds",
    "json_quoted",
    "listen_address",
    "load_settings",
    "plain_address",
]
