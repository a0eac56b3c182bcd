"""``run``, ``status`` and ``demo``: the service and how it does."""

from __future__ import annotations

import sys

import click

from ftpbridge.cli.app import Choice, Context, friendly_errors, main, pass_state
from ftpbridge.errors import EXIT_ATTENTION, UsageError
from ftpbridge.settings import Settings, load_settings
from ftpbridge.wording import plural


@main.command("run")
@pass_state
@friendly_errors
def run_command(state: Context) -> None:
    """Run the service: scheduled exports and polls for every enabled partner."""
    from ftpbridge.daemon import Daemon, single_instance
    from ftpbridge.logs import configure_logging
    from ftpbridge.settings import config_path_from

    path, _ = config_path_from(state.config)
    settings = load_settings(state.config, required=True)
    _refuse_if_nothing_to_run(settings)
    configure_logging(level=settings.daemon.log_level, stream=sys.stdout)
    with single_instance(settings):
        services = []
        if settings.api.listen is not None:  # [api] listen: serve the Orders API too
            from ftpbridge.web.server import ApiServer

            services.append(ApiServer(settings, state.store))
        daemon = Daemon(settings, state.store, config_path=path, services=services)
        sys.exit(daemon.run())


def _refuse_if_nothing_to_run(settings: Settings) -> None:
    """A service with nothing to do would look healthy to systemd and do nothing: refuse."""
    servable = [
        name for name, partner in settings.partners.items() if partner.enabled and partner.transport
    ]
    if servable or settings.api.listen is not None or settings.orders.inbox is not None:
        return
    where = settings.config_path or "the configuration"
    reason = (
        "no partner is configured"
        if not settings.partners
        else f"none of its {plural(len(settings.partners), 'partner')} is enabled with a transport"
    )
    raise UsageError(
        f"nothing to run in {where}: {reason}, and neither [api] listen nor [orders] inbox is set",
        hint="set transport (ftp, ftps, sftp or local) and its connection in a [partners.NAME]"
        " table (see config.example.toml)",
    )


@main.command("status")
@click.option("--format", "output_format", type=Choice(["table", "json"]), default="table")
@pass_state
@friendly_errors
def status_command(state: Context, output_format: str) -> None:
    """How every partner is doing: last export and poll, failures, stale partners, and
    notifications stuck or dead (exit 1 for any of these)."""
    import json

    from ftpbridge.exchange.status import (
        deliveries_total,
        partner_status,
        render,
        render_deliveries,
    )

    if not state.settings.partners:
        # A monitoring script must not read "nothing configured" as healthy.
        if output_format == "json":
            click.echo("[]")
        where = state.settings.config_path or "the configuration (no config file)"
        click.echo(
            f"Error: no partner is configured in {where}; there is nothing to report on",
            err=True,
        )
        click.echo(
            "Try: ftpbridge --config /etc/ftpbridge/config.toml status (the service's config)",
            err=True,
        )
        sys.exit(EXIT_ATTENTION)
    rows = partner_status(state.existing_store, state.settings)
    deliveries = deliveries_total(state.existing_store)
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        for line in render(rows) + render_deliveries(deliveries):
            click.echo(line)
    troubled = deliveries["stuck"] or deliveries["dead"]
    if troubled or any(row["alert"] or row["stale"] for row in rows):
        sys.exit(EXIT_ATTENTION)


@main.command("demo")
@click.option("--keep", is_flag=True, help="Leave the FTP server running afterwards.")
@friendly_errors
def demo_command(keep: bool) -> None:
    """See the whole exchange run on this machine: no config, no server needed."""
    from ftpbridge.demo import run_demo
    from ftpbridge.logs import configure_logging

    # The demo's own narration says what happens; its expected warnings (plain FTP on
    # loopback) would only be noise here.
    configure_logging(level="error")
    sys.exit(run_demo(keep=keep, say=click.echo))
