"""``run``, ``status`` and ``demo``: the service and how it does."""

from __future__ import annotations

import sys

import click

from ftpbridge.cli.app import Context, friendly_errors, main, pass_state
from ftpbridge.errors import EXIT_ATTENTION
from ftpbridge.settings import load_settings


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
    configure_logging(level=settings.daemon.log_level, stream=sys.stdout)
    with single_instance(settings):
        services = []
        if settings.api.listen is not None:  # [api] listen: serve the Orders API too
            from ftpbridge.web.server import ApiServer

            services.append(ApiServer(settings, state.store))
        daemon = Daemon(settings, state.store, config_path=path, services=services)
        sys.exit(daemon.run())


@main.command("status")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
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

    rows = partner_status(state.store, state.settings)
    deliveries = deliveries_total(state.store)
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
