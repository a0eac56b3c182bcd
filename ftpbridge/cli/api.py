"""``serve`` and ``api-key``: the Orders API and the keys that open it."""

from __future__ import annotations

import json
import sys

import click

from ftpbridge.cli.app import Choice, Context, friendly_errors, main, pass_state
from ftpbridge.settings import load_settings


@main.command("serve")
@click.option(
    "--listen",
    default=None,
    help='HOST:PORT to serve on (default: [api] listen, else "127.0.0.1:8080").',
)
@pass_state
@friendly_errors
def serve_command(state: Context, listen: str | None) -> None:
    """Serve the Orders API (HTTP) until stopped; no scheduled jobs."""
    from ftpbridge.logs import configure_logging
    from ftpbridge.settings import build_settings
    from ftpbridge.web.server import ApiServer

    settings = load_settings(state.config)
    if listen is not None:
        data = settings.model_dump(exclude={"config_path"}, exclude_unset=True, by_alias=True)
        data.setdefault("api", {})["listen"] = listen
        settings = build_settings(data, config_path=settings.config_path)
    configure_logging(level=settings.daemon.log_level, stream=sys.stdout)
    server = ApiServer(settings, state.store)
    sys.exit(server.serve_forever())


@main.group("api-key")
def api_key() -> None:
    """Create, list and revoke the keys of the Orders API."""


@api_key.command("create")
@click.argument("name")
@click.option("--partner", default=None, help="Scope the key to this partner's items.")
@click.option("--read-only", is_flag=True, help="The key can read, not update.")
@pass_state
@friendly_errors
def api_key_create(state: Context, name: str, partner: str | None, read_only: bool) -> None:
    """Make a new key NAME and print it (once: only its hash is kept)."""
    from ftpbridge.store import api_keys
    from ftpbridge.store.engine import utcnow

    api_keys.check_name(name)
    if partner is not None:
        state.partner(partner)
    with state.store.begin() as connection:
        created, key = api_keys.create(
            connection, name, partner=partner, read_only=read_only, now=utcnow()
        )
    click.echo(key)
    access = "read-only" if created.read_only else "read and update"
    click.echo(
        f"Created the API key {created.name!r} ({created.scope}, {access}). It is shown"
        " once: store it now; only its hash is kept.",
        err=True,
    )


@api_key.command("list")
@click.option("--format", "output_format", type=Choice(["table", "json"]), default="table")
@pass_state
@friendly_errors
def api_key_list(state: Context, output_format: str) -> None:
    """The keys: name, scope, access, created, last used, revoked (never the key)."""
    from ftpbridge.store import api_keys

    with state.existing_store.connect() as connection:
        keys = api_keys.all_keys(connection)

    def when(value: object) -> str | None:
        return None if value is None else f"{value:%Y-%m-%d %H:%M} UTC"

    rows = [
        {
            "name": key.name,
            "partner": key.partner,
            "read_only": key.read_only,
            "created": when(key.created_at),
            "last_used": when(key.last_used_at),
            "revoked": when(key.revoked_at),
        }
        for key in keys
    ]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No API keys. Make one: ftpbridge api-key create NAME [--partner P]")
        return
    headers = ("name", "scope", "access", "created", "last used", "revoked")
    table = [
        (
            row["name"],
            row["partner"] or "shop",
            "read-only" if row["read_only"] else "read, update",
            row["created"] or "",
            row["last_used"] or "never",
            row["revoked"] or "",
        )
        for row in rows
    ]
    widths = [max(len(str(line[column])) for line in (headers, *table)) for column in range(6)]
    for line in (headers, *table):
        click.echo(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)
            ).rstrip()
        )


@api_key.command("revoke")
@click.argument("name")
@pass_state
@friendly_errors
def api_key_revoke(state: Context, name: str) -> None:
    """Revoke the key NAME: every replica refuses it within [api] key_cache_seconds."""
    from ftpbridge.store import api_keys
    from ftpbridge.store.engine import utcnow

    with state.existing_store.begin() as connection:
        api_keys.revoke(connection, name, utcnow())
    seconds = state.settings.api.key_cache_seconds
    within = f"within {seconds:g} seconds" if seconds else "from the next request on"
    click.echo(f"Revoked the API key {name!r}: the Orders API refuses it {within}.")
