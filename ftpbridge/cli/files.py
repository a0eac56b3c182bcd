"""``export`` and ``import``: a partner's files by hand."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ftpbridge.cli.app import Context, friendly_errors, main, pass_state
from ftpbridge.errors import AlreadyDoneError, UsageError


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

    from ftpbridge.exchange.partners import partner_layout
    from ftpbridge.files.exporting import export_partner

    settings = state.partner(partner)
    layout = partner_layout(state.settings, settings)
    if upload:
        from ftpbridge.exchange.export import export_and_upload
        from ftpbridge.store.locks import job_lock

        with job_lock(state.store, settings.name, "export") as locked:
            if not locked:
                raise UsageError(
                    f"another ftpbridge is exporting {settings.name} right now",
                    hint="wait for it to finish (ftpbridge status shows the last export)",
                )
            try:
                outcome = export_and_upload(state.store, state.settings, settings, force=force)
            except AlreadyDoneError as done:
                click.echo(done.message)
                click.echo(f"To upload a second file anyway: {done.hint}")
                sys.exit(done.exit_code)
        click.echo(outcome.summary)
        sys.exit(outcome.exit_code)
    if out == "-":
        with tempfile.TemporaryDirectory() as scratch:
            result = export_partner(state.store, settings, layout, Path(scratch))
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
    from ftpbridge.exchange.partners import partner_layout
    from ftpbridge.files import events
    from ftpbridge.files.importing import import_file
    from ftpbridge.files.reports import default_report_path

    settings = state.partner(partner)
    if not file.exists():
        raise UsageError(f"no file {file}", hint="check the path")
    report_folder = (report or default_report_path(file)).parent
    if not os.access(report_folder, os.W_OK):
        raise UsageError(
            f"cannot write the report into {report_folder} (no permission)",
            hint="choose where it goes with --report PATH",
        )
    result = import_file(
        state.store,
        settings,
        partner_layout(state.settings, settings),
        file,
        dry_run=dry_run,
        report_path=report,
        max_file_bytes=state.settings.daemon.max_file_bytes,
        notify=events.for_file(state.settings.notify, settings),
    )
    print_import(result, sys.stdout)
    sys.exit(result.exit_code)
