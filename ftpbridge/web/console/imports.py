"""Import by hand: upload a fulfiller's file, see the dry run (what would change, every
refused row and why), then apply it or cancel. The dry run and the apply are the CLI's
import (``exchange.by_hand``): the same ledger, report and exactly-once."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ftpbridge.exchange import by_hand
from ftpbridge.files.reports import default_report_path, read_report
from ftpbridge.web.console.access import (
    MULTIPART_OVERHEAD,
    SMALL_FORM_BYTES,
    SignedIn,
    read_form,
    refuse_read_only,
    require_change,
)
from ftpbridge.web.console.rendering import ConsoleProblem, console_of, render
from ftpbridge.web.console.uploads import Held, Uploads

router = APIRouter()

REPORT_ROWS = 500
UPLOAD_SECONDS = 600.0
MAX_NAME = 300


def uploads_of(request: Request) -> Uploads:
    return Uploads(console_of(request).settings.state_dir / "console-uploads")


@router.get("/console/import", response_class=HTMLResponse)
def import_page(
    request: Request, session: SignedIn, partner: str = "", cancelled: str = ""
) -> Response:
    context = console_of(request)
    return render(
        request,
        "import.html",
        session,
        page="import",
        title="Import a file by hand",
        partners=sorted(context.settings.partners),
        chosen=partner,
        limit=context.settings.daemon.max_file_bytes,
        cancelled=bool(cancelled),
    )


@router.post("/console/import/check", response_class=HTMLResponse)
async def check(request: Request, session: SignedIn) -> Response:
    context = console_of(request)
    limit = context.settings.daemon.max_file_bytes
    refuse_read_only(session, "import files")
    form = await read_form(
        request, limit=limit + MULTIPART_OVERHEAD, seconds=UPLOAD_SECONDS, max_files=1
    )
    require_change(session, form, "import files")
    partner_name = form.get("partner")
    upload = form.get("file")
    if not isinstance(partner_name, str) or partner_name not in context.settings.partners:
        raise ConsoleProblem(
            "Choose the partner the file comes from.",
            "Go back, pick the partner in the list and send the file again.",
        )
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ConsoleProblem(
            "No file was sent.",
            "Go back, choose the fulfiller's file (or drop it on the page) and send it again.",
        )
    if upload.size is not None and upload.size > limit:
        raise ConsoleProblem(
            f"{upload.filename[:MAX_NAME]} is over the limit of {limit / 1e6:.0f} MB.",
            "Split the file, or ask the shop's admin to raise [daemon] max_file_bytes.",
            status=413,
        )
    partner = context.settings.partners[partner_name]
    name = upload.filename[:MAX_NAME]
    uploads = uploads_of(request)
    held = await run_in_threadpool(uploads.keep, session, upload.file, name, partner.name)
    await upload.close()
    result = await run_in_threadpool(
        by_hand.dry_run, context.store, context.settings, partner, held.path, name
    )
    report_path = default_report_path(held.path)
    report = (
        await run_in_threadpool(read_report, report_path, REPORT_ROWS)
        if result.status in ("dry_run", "rejected_file") and report_path.is_file()
        else None
    )
    if result.status != "dry_run":  # refused whole or already imported: nothing to apply
        uploads.drop(held)
    return render(
        request,
        "import_check.html",
        session,
        page="import",
        title=f"Check {name}",
        result=result,
        held=held,
        report=report,
        report_rows=REPORT_ROWS,
    )


async def _held(request: Request, session: SignedIn, what: str) -> Held:
    form = await read_form(request, limit=SMALL_FORM_BYTES, seconds=30)
    require_change(session, form, what)
    token = form.get("upload")
    held = uploads_of(request).held(session, token) if isinstance(token, str) else None
    if held is None:
        raise ConsoleProblem(
            "That upload is not kept any more (it was applied, cancelled, replaced by a newer"
            " upload, or more than two hours old).",
            "Upload the file again on the Import page.",
            status=410,
        )
    return held


@router.post("/console/import/apply", response_class=HTMLResponse)
async def apply(request: Request, session: SignedIn) -> Response:
    context = console_of(request)
    held = await _held(request, session, "import files")
    partner = context.settings.partners.get(held.partner)
    if partner is None:
        raise ConsoleProblem(
            f"The partner {held.partner!r} is not configured any more.",
            "Upload the file again and choose a configured partner.",
        )
    result = await run_in_threadpool(
        by_hand.apply, context.store, context.settings, partner, held.path, held.name
    )
    uploads_of(request).drop(held)
    return render(
        request,
        "import_done.html",
        session,
        page="import",
        title=f"Imported {held.name}" if result.status == "applied" else "Not imported",
        result=result,
        name=held.name,
    )


@router.post("/console/import/cancel")
async def cancel(request: Request, session: SignedIn) -> Response:
    held = await _held(request, session, "import files")
    uploads_of(request).drop(held)
    return RedirectResponse("/console/import?cancelled=1", status_code=303)
