"""The ``ftpbridge`` command line: commands, wiring, exit codes. No business logic here.

Exit codes: 0 all good; 1 some rows or files rejected; 2 usage/config error or a file
rejected as a whole; 3 a server or the store could not be used.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ftpbridge import __version__
from ftpbridge.errors import FtpbridgeError, UsageError
from ftpbridge.settings import PartnerSettings, Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command gets: the --config value, and settings/store built on demand."""

    def __init__(self, config: str | None, log_level: str, debug: bool) -> None:
        self.config = config
        self.log_level = log_level
        self.debug = debug
        self._settings: Settings | None = None
        self._store: Any = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def store(self) -> Any:
        if self._store is None:
            from ftpbridge.store import open_store

            if self.settings.config_path is None:
                click.echo(
                    "Note: no config file (./config.toml, --config or $FTPBRIDGE_CONFIG);"
                    f" using the default store in {self.settings.state_dir}",
                    err=True,
                )
            self._store = open_store(self.settings.store_url)
        return self._store

    def partner(self, name: str) -> PartnerSettings:
        return self.settings.partner(name)

    def layout(self, partner: PartnerSettings) -> Any:
        from ftpbridge.files.layouts import load_layout

        return load_layout(partner.layout, self.settings.resolve(self.settings.schemas_dir))


def friendly_errors(function: F) -> F:
    """Turn ftpbridge errors into ``Error:``/``Try:`` lines and their exit code."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        context = click.get_current_context()
        state: Context | None = context.find_object(Context)
        try:
            return function(*args, **kwargs)
        except FtpbridgeError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"Try: {exc.hint}", err=True)
            if state is not None and state.debug:
                raise
            context.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader went away (e.g. "| head"): not an error of ours.
            sys.stderr.close()
            context.exit(0)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            context.exit(130)
        except Exception as exc:
            if state is not None and state.debug:
                raise
            click.echo(
                f"Internal error: {type(exc).__name__}: {_redacted(_first_line(exc))}",
                err=True,
            )
            click.echo(
                "Try: run the same command with --debug for the details, and report it",
                err=True,
            )
            context.exit(70)

    return wrapper  # type: ignore[return-value]


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""


def _redacted(text: str) -> str:
    from ftpbridge.logs import redact_text

    return redact_text(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftpbridge")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $FTPBRIDGE_CONFIG, else ./config.toml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Log level for this command (the daemon uses [daemon] log_level).",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks (for reporting bugs).")
@click.pass_context
def main(context: click.Context, config: str | None, log_level: str, debug: bool) -> None:
    """Exchange orders and shipment confirmations with fulfillers as CSV over FTP/FTPS/SFTP."""
    from ftpbridge.logs import configure_logging

    configure_logging(level="debug" if debug else log_level)
    context.obj = Context(config, log_level, debug)


pass_state = click.make_pass_decorator(Context)


# --------------------------------------------------------------------------- db


@main.group()
def db() -> None:
    """The order store's schema."""


@db.command("upgrade")
@pass_state
@friendly_errors
def db_upgrade(state: Context) -> None:
    """Create the store's tables, or migrate them to this version."""
    from ftpbridge.store import open_store

    store = open_store(state.settings.store_url, migrate=False)
    before, _head = store.revision()
    store.upgrade()
    after, _ = store.revision()
    if before == after:
        click.echo(f"The store {store.url_for_people} is up to date (revision {after}).")
    else:
        click.echo(
            f"The store {store.url_for_people} migrated from {before or 'empty'} to {after}."
        )


# --------------------------------------------------------------------------- orders


@main.group()
def orders() -> None:
    """Load orders into the store and look at them."""


@orders.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
@friendly_errors
def orders_load(state: Context, file: Path) -> None:
    """Load orders from FILE (JSON Lines, one Topspin-style order per line)."""
    from ftpbridge.files.intake import load_orders

    result = load_orders(state.store, file, list(state.settings.partners.values()))
    summary = result.summary
    click.echo(
        f"Loaded {result.orders} orders ({summary.orders_new} new, {summary.orders_updated}"
        f" updated) with {result.items} items ({summary.items_new} new,"
        f" {summary.items_updated} updated, {summary.items_kept_shipped} already shipped"
        " and kept)."
    )
    for partner, count in sorted(result.routed.items()):
        click.echo(f"  {count} items routed to {partner}")
    if result.unrouted:
        click.echo(
            f"Warning: {result.unrouted} items match no partner's skus and there is no default"
            " partner; they will not be exported. Add 'skus' or 'default = true' to a partner"
            " and load the file again.",
            err=True,
        )


@orders.command("list")
@click.option("--partner", default=None, help="Only this partner's items.")
@click.option(
    "--filter",
    "status_filter",
    type=click.Choice(
        ["all", "pending", "acknowledged", "not_shipped", "shipped", "cancelled", "past_due"]
    ),
    default="not_shipped",
    show_default=True,
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many items.")
@pass_state
@friendly_errors
def orders_list(
    state: Context, partner: str | None, status_filter: str, output_format: str, limit: int | None
) -> None:
    """List items with their shipping state."""
    from ftpbridge.cli.render import list_orders, render_items

    if partner is not None:
        state.partner(partner)
    rows = list_orders(
        state.store, state.settings, partner=partner, status_filter=status_filter, limit=limit
    )
    render_items(rows, output_format, sys.stdout)


# --------------------------------------------------------------------------- export / import


@main.command("export")
@click.option("--partner", required=True, help="The partner ([partners.NAME]) to export for.")
@click.option(
    "--out",
    default=None,
    help="File or folder to write (default: the current folder); '-' writes to standard output.",
)
@click.option("--upload", is_flag=True, help="Also upload the file to the partner's server.")
@click.option("--force", is_flag=True, help="Upload even if today's file was already uploaded.")
@pass_state
@friendly_errors
def export_command(
    state: Context, partner: str, out: str | None, upload: bool, force: bool
) -> None:
    """Export the partner's items waiting to ship to a CSV file."""
    import tempfile

    from ftpbridge.files.exporting import export_partner

    settings = state.partner(partner)
    layout = state.layout(settings)
    if upload:
        from ftpbridge.exchange.cycles import export_and_upload
        from ftpbridge.store.locks import job_lock

        with job_lock(state.store, settings.name, "export") as locked:
            if not locked:
                raise UsageError(
                    f"another ftpbridge is exporting {settings.name} right now",
                    hint="wait for it to finish (ftpbridge status shows the last export)",
                )
            outcome = export_and_upload(state.store, state.settings, settings, force=force)
        click.echo(outcome.summary)
        sys.exit(outcome.exit_code)
    if out == "-":
        with tempfile.TemporaryDirectory() as folder:
            result = export_partner(state.store, settings, layout, Path(folder))
            with result.path.open("rb") as handle:
                sys.stdout.flush()
                sys.stdout.buffer.write(handle.read())
            click.echo(f"Exported {result.rows} items for {partner} ({result.name}).", err=True)
        return
    folder, name = Path.cwd(), None
    if out is not None:
        target = Path(out)
        if target.is_dir():
            folder = target
        else:
            folder, name = target.parent, target.name
    result = export_partner(state.store, settings, layout, folder, name=name)
    click.echo(f"Exported {result.rows} items for {partner} to {result.path}")


@main.command("import")
@click.option("--partner", required=True, help="The partner ([partners.NAME]) the file comes from.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option(
    "--report",
    "report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the per-row report (default: FILE.report.csv).",
)
@pass_state
@friendly_errors
def import_command(
    state: Context, partner: str, file: Path, dry_run: bool, report: Path | None
) -> None:
    """Import a fulfiller's updated FILE: validate every row, apply the good ones."""
    from ftpbridge.cli.render import print_import
    from ftpbridge.files.importing import import_file

    settings = state.partner(partner)
    if not file.exists():
        raise UsageError(f"no file {file}", hint="check the path")
    from ftpbridge.files.importing import default_report_path

    report_folder = (report or default_report_path(file)).parent
    if not os.access(report_folder, os.W_OK):
        raise UsageError(
            f"cannot write the report into {report_folder} (no permission)",
            hint="choose where it goes with --report PATH",
        )
    result = import_file(
        state.store,
        settings,
        state.layout(settings),
        file,
        dry_run=dry_run,
        report_path=report,
        max_file_bytes=state.settings.daemon.max_file_bytes,
    )
    print_import(result, sys.stdout)
    sys.exit(result.exit_code)


# --------------------------------------------------------------------------- transports


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
    sys.exit(0 if report.ok else 3)


@main.command("poll")
@click.option(
    "--partner",
    "partners",
    multiple=True,
    help="Partner(s) to poll (default: all with a transport).",
)
@click.option("--once", is_flag=True, required=True, help="Poll once and exit.")
@pass_state
@friendly_errors
def poll_command(state: Context, partners: tuple[str, ...], once: bool) -> None:
    """Take the updated files waiting on the partner's server and import them."""
    from ftpbridge.errors import TransportError
    from ftpbridge.exchange.cycles import poll_once

    chosen = [state.partner(name) for name in partners] or [
        partner
        for partner in state.settings.partners.values()
        if partner.transport and partner.enabled
    ]
    if not chosen:
        raise UsageError(
            "no partner has a transport to poll", hint="set transport in a [partners.NAME] table"
        )
    worst = 0
    for partner in chosen:
        try:
            outcome = poll_once(state.store, state.settings, partner)
        except TransportError as exc:
            click.echo(f"Error: {partner.name}: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"Try: {exc.hint}", err=True)
            worst = max(worst, 3)
            continue
        click.echo(outcome.summary)
        worst = max(worst, outcome.exit_code)
    sys.exit(worst)


# --------------------------------------------------------------------------- service


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
        daemon = Daemon(settings, state.store, config_path=path)
        sys.exit(daemon.run())


@main.command("status")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
@pass_state
@friendly_errors
def status_command(state: Context, output_format: str) -> None:
    """How every partner is doing: last export and poll, failures, stale partners."""
    import json

    from ftpbridge.exchange.status import partner_status, render

    rows = partner_status(state.store, state.settings)
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        for line in render(rows):
            click.echo(line)
    if any(row["alert"] or row["stale"] for row in rows):
        sys.exit(1)


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
