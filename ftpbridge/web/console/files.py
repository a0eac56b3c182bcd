"""The Files page: the ledger, newest first, filtered by partner, direction (updated
files, exports, a warehouse's inventory files) and outcome; an updated or inventory file's
per-row report as a table (refused and held rows first, with their reasons), a held
inventory snapshot explained; the original file and the report to download."""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from ftpbridge.exchange.by_hand import download_name, kept_files
from ftpbridge.files.inventory import held_hint
from ftpbridge.files.reports import read_report
from ftpbridge.store.reads import OUTCOMES, ROW_DIRECTIONS, ledger_entry, ledger_page
from ftpbridge.web.console.access import SignedIn
from ftpbridge.web.console.rendering import SECURITY_HEADERS, ConsoleProblem, console_of, render

router = APIRouter()

PAGE_SIZE = 50
REPORT_ROWS = 500
# The ledger's directions, as the page names them.
DIRECTIONS = {"import": "updated files", "export": "exports", "inventory": "inventory files"}


def _choice(value: str | None, choices: tuple[str, ...] | list[str], name: str) -> str | None:
    if not value:
        return None
    if value not in choices:
        raise ConsoleProblem(
            f"{value[:60]!r} is not a {name} the Files page knows.",
            f"Choose one of: {', '.join(choices)}.",
        )
    return value


@router.get("/console/files", response_class=HTMLResponse)
def files_page(
    request: Request,
    session: SignedIn,
    partner: str | None = None,
    direction: str | None = None,
    outcome: str | None = None,
    before: int | None = None,
) -> Response:
    context = console_of(request)
    partners = sorted(context.settings.partners)
    chosen = {
        "partner": _choice(partner, partners, "partner"),
        "direction": _choice(direction, tuple(DIRECTIONS), "direction"),
        "outcome": _choice(outcome, OUTCOMES, "outcome"),
    }
    with context.store.connect() as connection:
        entries = ledger_page(
            connection,
            partner=chosen["partner"],
            direction=chosen["direction"],
            outcome=chosen["outcome"],
            before_id=before,
            limit=PAGE_SIZE + 1,
        )
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    older = None
    if more:
        query = {name: value for name, value in chosen.items() if value}
        older = "/console/files?" + urlencode({**query, "before": entries[-1]["id"]})
    return render(
        request,
        "files.html",
        session,
        page="files",
        title="Files",
        entries=entries,
        chosen=chosen,
        partners=partners,
        directions=DIRECTIONS,
        row_directions=ROW_DIRECTIONS,
        outcomes=OUTCOMES,
        older=older,
        first_page=before is None,
    )


def _entry(request: Request, file_id: int) -> dict[str, object]:
    with console_of(request).store.connect() as connection:
        entry = ledger_entry(connection, file_id)
    if entry is None:
        raise ConsoleProblem(
            f"There is no file number {file_id} in the ledger.",
            "Open the Files page and choose a file from the list.",
            status=404,
        )
    return entry


@router.get("/console/files/{file_id}", response_class=HTMLResponse)
def file_page(request: Request, session: SignedIn, file_id: int) -> Response:
    entry = _entry(request, file_id)
    original, report_path = kept_files(entry)
    report = None
    report_problem = None
    if report_path is not None:
        try:
            report = read_report(report_path, REPORT_ROWS)
        except (OSError, ValueError, KeyError) as exc:
            report_problem = f"The report at {report_path} cannot be read ({exc})."
    elif entry["direction"] in ROW_DIRECTIONS:
        report_problem = "The report of this file is not kept on this server any more."
    # A held snapshot is applied by hand: the command names the copy kept on this server
    # when there is one (the path works as typed), else the file's name.
    kept = str(original) if original is not None else str(entry["name"])
    return render(
        request,
        "file.html",
        session,
        page="files",
        title=f"File {entry['name']}",
        entry=entry,
        original=original,
        report=report,
        report_problem=report_problem,
        report_rows=REPORT_ROWS,
        row_directions=ROW_DIRECTIONS,
        held_hint=held_hint(str(entry["partner"]), shlex.quote(kept)),
    )


@router.get("/console/files/{file_id}/original")
def original_file(request: Request, session: SignedIn, file_id: int) -> Response:
    entry = _entry(request, file_id)
    original, _report = kept_files(entry)
    return _download(original, str(entry["name"]), "application/octet-stream")


@router.get("/console/files/{file_id}/report")
def report_file(request: Request, session: SignedIn, file_id: int) -> Response:
    entry = _entry(request, file_id)
    _original, report = kept_files(entry)
    return _download(report, f"{entry['name']}.report.csv", "text/csv")


def _download(path: Path | None, name: str, media_type: str) -> Response:
    if path is None:
        raise ConsoleProblem(
            "That file is not kept on this server any more.",
            "Look in the partner's archive folder on their server, or ask ops for a copy.",
            status=404,
        )
    return FileResponse(
        path,
        media_type=media_type,
        filename=download_name(name),
        headers={**SECURITY_HEADERS},
    )
