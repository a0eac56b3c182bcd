"""The per-row report of a file applied by hand (``import``, ``inventory import``): the
``--report`` option and the checks made before anything is read: the input exists, the
report would not overwrite it, and its folder is writable."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ftpbridge.errors import UsageError

report_option = click.option(
    "--report",
    "report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the per-row report (default: FILE.report.csv).",
)


def check_report_target(file: Path, report: Path | None) -> None:
    """Raise UsageError when ``file`` is missing, ``report`` is ``file`` itself (by any
    path), or the report's folder cannot be written."""
    from ftpbridge.files.reports import default_report_path

    if not file.exists():
        raise UsageError(f"no file {file}", hint="check the path")
    if report is not None and report.exists() and os.path.samefile(report, file):
        raise UsageError(
            f"--report {report} is the file being imported: the report would overwrite it",
            hint=f"leave --report out (the report goes to {default_report_path(file).name})"
            " or name another file",
        )
    report_folder = (report or default_report_path(file)).parent
    if not os.access(report_folder, os.W_OK):
        raise UsageError(
            f"cannot write the report into {report_folder} (no permission)",
            hint="choose where it goes with --report PATH",
        )
