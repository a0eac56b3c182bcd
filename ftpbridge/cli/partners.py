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
    "trust_host_key",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[SHA256:...]",
    help="SFTP: fetch the server's host key, show its fingerprint and add it to known_hosts"
    " (none known for it yet). With a fingerprint: only the key that has it.",
)
@click.option(
    "--replace-host-key",
    is_flag=True,
    help="SFTP, with --trust-host-key SHA256:...: replace the key known for the server by"
    " the one with that fingerprint (after a reinstall, once the partner confirmed it).",
)
@pass_state
@friendly_errors
def check_command(
    state: Context, partner: str, trust_host_key: str | None, replace_host_key: bool
) -> None:
    """Test the connection: log in, list, upload, rename and delete a probe file."""
    from ftpbridge.exchange.check import describe_check, run_check

    trust: bool | str = trust_host_key if trust_host_key else trust_host_key is not None
    report = run_check(
        state.settings,
        state.partner(partner),
        trust_host_key=trust,
        replace_host_key=replace_host_key,
    )
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
    from ftpbridge.cli.progress import showing_transfers
    from ftpbridge.errors import TransportError
    from ftpbridge.exchange.inventory import INVENTORY
    from ftpbridge.exchange.jobs import record_by_hand
    from ftpbridge.exchange.poll import UPDATED, poll_once
    from ftpbridge.logs import redact_text, shown

    def printable(text: str) -> str:
        return shown(redact_text(text), keep_newlines=True)

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
            with showing_transfers("download"):  # the reports uploaded are small
                outcome = poll_once(state.store, state.settings, partner, kind=poll_kind)
        except TransportError as exc:
            record_by_hand(state.store, partner, poll_kind.job, exc.message)
            click.echo(f"Error: {partner.name}: {printable(exc.message)}", err=True)
            if exc.hint:
                click.echo(f"Try: {printable(exc.hint)}", err=True)
            worst = max(worst, EXIT_UNAVAILABLE)
            unreachable.add(partner.name)
            continue
        # status: a poll (or an inventory poll), as the daemon's
        record_by_hand(state.store, partner, poll_kind.job, None)
        click.echo(outcome.summary)
        worst = max(worst, outcome.exit_code)
    sys.exit(worst)
