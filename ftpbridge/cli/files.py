"""``export`` and ``import``: a partner's files by hand."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ftpbridge.cli.app import Choice, Context, friendly_errors, main, pass_state
from ftpbridge.cli.report_target import check_report_target, report_option
from ftpbridge.errors import AlreadyDoneError, UsageError
from ftpbridge.wording import plural

if TYPE_CHECKING:
    from ftpbridge.files.exporting import ExportResult


@main.command("export")
@click.option("--partner", required=True, help="The partner ([partners.NAME]) to export for.")
@click.option(
    "--out",
    default=None,
    help="File or folder to write (default: the current folder; a path ending in / is a"
    " folder, which must exist); '-' writes to standard output.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write (or print) the file and change nothing: no item is marked exported.",
)
@click.option("--upload", is_flag=True, help="Also upload the file to the partner's server.")
@click.option("--force", is_flag=True, help="Upload even if today's file was already uploaded.")
@click.option(
    "--format",
    "export_format",
    type=Choice(["csv", "xlsx"]),
    default=None,
    help="csv, or xlsx: the fill-in workbook (default: the partner's export_format).",
)
@pass_state
@friendly_errors
def export_command(
    state: Context,
    partner: str,
    out: str | None,
    dry_run: bool,
    upload: bool,
    force: bool,
    export_format: str | None,
) -> None:
    """Export the partner's items waiting to ship to a CSV file (or a workbook).

    Exporting marks the items acknowledged (exported): with export_mode = new_only they
    are never exported again. --dry-run writes the same file and marks nothing.
    """
    import tempfile

    from ftpbridge.cli.progress import Progress
    from ftpbridge.exchange.partners import partner_layout
    from ftpbridge.files.exporting import export_partner

    settings = state.partner(partner)
    layout = partner_layout(state.settings, settings)
    if upload:
        if dry_run:
            raise UsageError(
                "--dry-run changes nothing, so it cannot upload",
                hint=f"ftpbridge export --partner {partner} --dry-run (to look), or --upload alone",
            )
        _export_and_upload(state, partner, force, export_format)
        return
    if out == "-":
        with tempfile.TemporaryDirectory() as scratch:
            result = export_partner(
                _store(state, dry_run),
                settings,
                layout,
                Path(scratch),
                export_format=export_format,
                dry_run=dry_run,
            )
            with result.path.open("rb") as handle:
                sys.stdout.flush()
                shutil.copyfileobj(handle, sys.stdout.buffer)
            click.echo(
                f"Exported {plural(result.rows, 'item')} for {partner} ({result.name}).",
                err=True,
            )
            _say_what_it_did(result, settings.export_mode, err=True)
        return
    folder, name = _out_path(out)
    store = _store(state, dry_run)
    with Progress("Exporting", unit="items") as progress:
        result = export_partner(
            store,
            settings,
            layout,
            folder,
            name=name,
            export_format=export_format,
            dry_run=dry_run,
            progress=progress,
        )
    verb = "Wrote" if dry_run else "Exported"
    click.echo(f"{verb} {plural(result.rows, 'item')} for {partner} to {result.path}")
    _say_what_it_did(result, settings.export_mode, err=False)


def _store(state: Context, dry_run: bool) -> Any:
    """The store; for a dry run, which changes nothing, only one that exists (issue 11
    item 4: a command that only looks never creates a store)."""
    return state.existing_store if dry_run else state.store


def _out_path(out: str | None) -> tuple[Path, str | None]:
    """``--out``: (folder, file name or None for the partner's template name). A path
    ending in ``/`` or naming an existing folder is a folder; either way the folder must
    exist (a mistyped path must not become new folders and a file named like a folder)."""
    if out is None:
        return Path.cwd(), None
    target = Path(out)
    if out.endswith(("/", os.sep)) or target.is_dir():
        if not target.is_dir():
            raise UsageError(
                f"the folder {out} does not exist",
                hint="create it first (mkdir), or check the path",
            )
        return target, None
    if not target.parent.is_dir():
        raise UsageError(
            f"cannot write {out}: the folder {target.parent} does not exist",
            hint="create it first (mkdir), or check the path",
        )
    return target.parent, target.name


def _say_what_it_did(
    result: ExportResult, export_mode: str, *, err: bool, marked: int | None = None
) -> None:
    """The kept earlier file, what marking did (``marked``: the upload's count), and the
    characters a legacy encoding lost."""
    from ftpbridge.files.export_notes import describe_marking, describe_replacements

    if result.kept is not None:
        click.echo(
            f"An earlier file {result.kept.name} was there: it is kept, and this export is"
            f" {result.path.name}.",
            err=err,
        )
    click.echo(describe_marking(result, export_mode, marked), err=err)
    for line in describe_replacements(result.replaced) if result.replaced else []:
        click.echo(line, err=True)


def _export_and_upload(
    state: Context, partner: str, force: bool, export_format: str | None
) -> None:
    from ftpbridge.cli.progress import showing_transfers
    from ftpbridge.exchange.export import export_and_upload
    from ftpbridge.store.locks import job_lock

    settings = state.partner(partner)
    with job_lock(state.store, settings.name, "export") as locked:
        if not locked:
            raise UsageError(
                f"another ftpbridge is exporting {settings.name} right now",
                hint="wait for it to finish (ftpbridge status shows the last export)",
            )
        try:
            with showing_transfers("upload"):
                outcome = export_and_upload(
                    state.store, state.settings, settings, force=force, export_format=export_format
                )
        except AlreadyDoneError as done:
            click.echo(done.message)
            click.echo(f"To upload a second file anyway: {done.hint}")
            sys.exit(done.exit_code)
    click.echo(outcome.summary)
    if outcome.export is not None:
        _say_what_it_did(outcome.export, settings.export_mode, err=False, marked=outcome.marked)
    sys.exit(outcome.exit_code)


@main.command("import")
@click.option("--partner", required=True, help="The partner ([partners.NAME]) the file comes from.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@report_option
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

    settings = state.partner(partner)
    check_report_target(file, report)
    from ftpbridge.cli.progress import Progress

    store = _store(state, dry_run)
    with Progress("Importing", unit="rows") as progress:
        result = import_file(
            store,
            settings,
            partner_layout(state.settings, settings),
            file,
            dry_run=dry_run,
            report_path=report,
            max_file_bytes=state.settings.daemon.max_file_bytes,
            progress=progress,
            notify=events.for_file(state.settings.notify, settings),
        )
    print_import(result, sys.stdout)
    sys.exit(result.exit_code)
