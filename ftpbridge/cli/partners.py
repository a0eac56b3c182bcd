"""``check`` and ``poll``: a partner's server."""

from __future__ import annotations

import sys

import click

from ftpbridge.cli.app import Context, friendly_errors, main, pass_state
from ftpbridge.errors import EXIT_OK, EXIT_UNAVAILABLE, UsageError


@main.command("check")
@click.option("--partner", required=True, help="The partner whose server to test.")
@click.option(
    "--trust-host-key",
    is_flag=True,
    help="SFTP: fetch the server's host key, show its fingerprint and add it to known_hosts.",
)
@pass_state
@friendly_errors
def check_command(state: Context, partner: str, trust_host_key: bool) -> None:
    """Test the connection: log in, list, upload, rename and delete a probe file."""
    from ftpbridge.exchange.check import describe_check, run_check

    report = run_check(state.settings, state.partner(partner), trust_host_key=trust_host_key)
    for line in describe_check(report):
        click.echo(line)
    sys.exit(EXIT_OK if report.ok else EXIT_UNAVAILABLE)


@main.command("poll")
@click.option(
    "--partner",
    "partners",
    multiple=True,
    help="Partner(s) to poll (default: all with a transport).",
)
# `poll` always polls once and exits (`ftpbridge run` polls on a schedule); `--once` was once
# required, and cron lines written then still pass it: accepted, hidden, changes nothing.
@click.option("--once", is_flag=True, hidden=True, expose_value=False)
@click.option(
    "--kind",
    type=click.Choice(["all", "updated", "inventory"]),
    default="all",
    show_default=True,
    help="Which files to take: updated files, inventory files, or both.",
)
@pass_state
@friendly_errors
def poll_command(state: Context, partners: tuple[str, ...], kind: str) -> None:
    """Take the updated and inventory files waiting on the partner's server once, import
    them, and exit."""
    from ftpbridge.errors import TransportError
    from ftpbridge.exchange.inventory import INVENTORY
    from ftpbridge.exchange.poll import UPDATED, poll_once

    chosen = [state.partner(name) for name in partners] or [
        partner
        for partner in state.settings.partners.values()
        if partner.transport and partner.enabled
    ]
    if not chosen:
        raise UsageError(
            "no partner has a transport to poll", hint="set transport in a [partners.NAME] table"
        )
    kinds = {"all": (UPDATED, INVENTORY), "updated": (UPDATED,), "inventory": (INVENTORY,)}
    worst = EXIT_OK
    unreachable: set[str] = set()
    for partner, poll_kind in [(p, k) for p in chosen for k in kinds[kind]]:
        if partner.name in unreachable:  # said once already
            continue
        if poll_kind is INVENTORY and not partner.inventory_pattern:
            if kind == "inventory":
                click.echo(f"{partner.name}: inventory files are off (inventory_pattern is empty)")
            continue
        try:
            outcome = poll_once(state.store, state.settings, partner, kind=poll_kind)
        except TransportError as exc:
            click.echo(f"Error: {partner.name}: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"Try: {exc.hint}", err=True)
            worst = max(worst, EXIT_UNAVAILABLE)
            unreachable.add(partner.name)
            continue
        click.echo(outcome.summary)
        worst = max(worst, outcome.exit_code)
    sys.exit(worst)
