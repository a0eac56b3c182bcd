"""What a partner's cycles share: its transport, its layout, remote folders, the outcome,
the kinds of file a poll takes.

The exchange package is the only place where a transport, a file and the store meet:
``export`` (export, then upload atomically), ``poll`` (list, settle, download, import,
archive, report), ``inventory`` (the same poll for a warehouse's inventory files),
``check`` (the connection test), ``status`` (how each partner does) and ``jobs`` (a cycle
as the service runs it). :class:`PollKind` says what a poll takes and how it applies it.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path

from ftpbridge.durable import fitted_name
from ftpbridge.errors import EXIT_OK, UsageError
from ftpbridge.files.exporting import ExportResult
from ftpbridge.files.import_results import ImportResult
from ftpbridge.files.layouts import Layout, load_layout
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store
from ftpbridge.transport import ConnectionParams, Transport, open_transport


def connection_params(settings: Settings, partner: PartnerSettings) -> ConnectionParams:
    """Plain connection values for the partner's transport (secrets read here, once)."""
    return ConnectionParams(
        host=partner.host,
        port=partner.port,
        username=partner.username,
        password=partner.secret_password(),
        private_key=partner.key_file(),
        private_key_passphrase=partner.secret_passphrase(),
        known_hosts=settings.resolve(partner.known_hosts),
        passive=partner.passive,
        timeout=partner.timeout,
        ca_file=settings.resolve(partner.ca_file),
        tls_verify=partner.tls_verify,
        path=settings.resolve(partner.path),
        min_rate_bytes=partner.min_rate_bytes,
        max_listing_entries=partner.max_listing_entries,
    )


def partner_transport(settings: Settings, partner: PartnerSettings) -> Transport:
    """The partner's transport, not yet connected. UsageError for a manual-only partner."""
    if partner.transport is None:
        raise UsageError(
            f"partner {partner.name} has no transport: it is manual-only",
            hint=f"set transport (ftp, ftps, sftp or local) in [partners.{partner.name}],"
            " or export/import by hand",
        )
    return open_transport(partner.transport, connection_params(settings, partner))


def partner_layout(settings: Settings, partner: PartnerSettings) -> Layout:
    """The partner's CSV layout (``layout`` in its table), from ``schemas_dir`` or shipped.

    The one place a partner's layout is looked up: the cycles and the CLI's ``export`` and
    ``import`` use it. Raises ConfigError for an unknown or invalid layout."""
    return load_layout(partner.layout, settings.resolve(settings.schemas_dir))


def free_name(name: str, taken: Container[str], tag: str = "") -> str:
    """Return ``name`` when it is not in ``taken``, else the first free name made by putting
    ``tag`` and then ``-2``, ``-3`` ... before the extension (what follows the last dot).

    ``free_name("orders.csv", {"orders.csv", "orders-2.csv"})`` is ``"orders-3.csv"``; with
    ``tag=".20261201T060000Z"`` the candidates are ``orders.20261201T060000Z.csv``, then
    ``orders.20261201T060000Z-2.csv`` and so on. Used for a second export of a day (never
    overwrite a file the fulfiller may not have fetched) and for archiving onto a name
    already in the archive. Ends: at most ``len(taken) + 1`` candidates are tried. A
    candidate longer than a file name may be (255 bytes) is shortened (``fitted_name``).
    """
    if name not in taken:
        return fitted_name(name)
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    candidates = itertools.chain(
        [f"{stem}{tag}{dot}{extension}"] if tag else [],
        (f"{stem}{tag}-{number}{dot}{extension}" for number in itertools.count(2)),
    )
    return next(
        fitted for candidate in candidates if (fitted := fitted_name(candidate)) not in taken
    )


def remote_dir(base: str, relative: str) -> str:
    """``archive_dir``/``errors_dir``: relative paths are relative to the inbox."""
    if relative.startswith("/"):
        return posixpath.normpath(relative)
    return posixpath.normpath(posixpath.join(base or ".", relative))


@dataclass
class CycleOutcome:
    """What one export or poll cycle did, for people (``summary``) and for exit codes."""

    partner: str
    job: str
    exit_code: int = EXIT_OK
    lines: list[str] = field(default_factory=list)
    imports: list[ImportResult] = field(default_factory=list)
    export: ExportResult | None = None
    marked: int | None = None
    """An export's: how many of its items the upload marked sent (``mark_sent``)."""

    @property
    def summary(self) -> str:
        return "\n".join(self.lines) if self.lines else f"{self.partner}: nothing to do"


@dataclass(frozen=True)
class PollKind:
    """What a poll takes from the inbox and how it applies one file.

    ``name``: "updated" or "inventory" (the words of the summaries); ``job``: the job it
    runs as ("poll", "inventory"); ``pattern``: the partner's glob for such files;
    ``apply(store, settings, partner, local copy, report path, name)``: import the staged
    copy, writing the report; ``refuse(store, partner name, name, size, error,
    report_path=, now=)``: record a file rejected unread (over the size limit, or given
    up on after failed takes); ``describe``: one line about a file taken."""

    name: str
    job: str
    pattern: Callable[[PartnerSettings], str]
    apply: Callable[[Store, Settings, PartnerSettings, Path, Path, str], ImportResult]
    refuse: Callable[..., ImportResult]
    describe: Callable[[ImportResult], str]

    def sightings_key(self, partner: str) -> str:
        """Whose sightings a listing records: each kind counts its own files settling
        (a poll forgets the sightings of files it no longer lists)."""
        return partner if self.name == "updated" else f"{partner}:{self.name}"
