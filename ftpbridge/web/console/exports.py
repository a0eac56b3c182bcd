"""Export by hand: choose a partner, preview the items, then download the CSV (marking the
items as ``ftpbridge export --out`` does, as the button says) or upload it to the partner
(``ftpbridge export --upload``). A downloaded file is kept under
``state_dir/exports/PARTNER/STAMP/`` and named in the ledger, so the Files page offers it
again."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from starlette.concurrency import run_in_threadpool

from ftpbridge.errors import AlreadyDoneError, FtpbridgeError
from ftpbridge.exchange import by_hand
from ftpbridge.settings import PartnerSettings
from ftpbridge.store.engine import utcnow
from ftpbridge.web.console.access import SMALL_FORM_BYTES, SignedIn, read_form, require_change
from ftpbridge.web.console.rendering import SECURITY_HEADERS, ConsoleProblem, console_of, render
from ftpbridge.web.console.session import Session

router = APIRouter()


def _partner(request: Request, name: object) -> PartnerSettings:
    partners = console_of(request).settings.partners
    if not isinstance(name, str) or name not in partners:
        raise ConsoleProblem(
            "Choose a partner to export for.",
            f"Pick one of: {', '.join(sorted(partners))}.",
        )
    return partners[name]


def _page(
    request: Request,
    session: Session,
    partner: PartnerSettings | None,
    *,
    outcome: str | None = None,
    problem: FtpbridgeError | None = None,
    status: int = 200,
) -> Response:
    context = console_of(request)
    preview = by_hand.preview_export(context.store, partner) if partner else None
    return render(
        request,
        "export.html",
        session,
        page="export",
        title="Export by hand",
        partners=sorted(context.settings.partners),
        partner=partner,
        preview=preview,
        outcome=outcome,
        problem=problem,
        already=isinstance(problem, AlreadyDoneError),
        status=status,
    )


@router.get("/console/export", response_class=HTMLResponse)
def export_page(request: Request, session: SignedIn, partner: str = "") -> Response:
    return _page(request, session, _partner(request, partner) if partner else None)


@router.post("/console/export/download")
async def download(request: Request, session: SignedIn) -> Response:
    context = console_of(request)
    form = await read_form(request, limit=SMALL_FORM_BYTES, seconds=30)
    require_change(session, form, "export files")
    partner = _partner(request, form.get("partner"))
    folder = (
        context.settings.state_dir
        / "exports"
        / partner.name
        / utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    )
    await run_in_threadpool(folder.mkdir, parents=True, exist_ok=True)
    result = await run_in_threadpool(
        by_hand.export_to_folder, context.store, context.settings, partner, folder
    )
    return FileResponse(
        result.path,
        media_type="text/csv",
        filename=by_hand.download_name(result.name),
        headers={**SECURITY_HEADERS},
    )


@router.post("/console/export/upload", response_class=HTMLResponse)
async def upload(request: Request, session: SignedIn) -> Response:
    context = console_of(request)
    form = await read_form(request, limit=SMALL_FORM_BYTES, seconds=30)
    require_change(session, form, "export files")
    partner = _partner(request, form.get("partner"))
    if partner.transport is None:
        raise ConsoleProblem(
            f"{partner.name} has no server configured: there is nowhere to upload to.",
            "Download the file instead and send it to the partner yourself.",
        )
    force = form.get("force") == "yes"
    try:
        outcome = await run_in_threadpool(
            by_hand.export_and_upload_now, context.store, context.settings, partner, force=force
        )
    except AlreadyDoneError as done:
        return _page(request, session, partner, problem=done, status=409)
    except FtpbridgeError as failed:
        return _page(request, session, partner, problem=failed, status=502)
    return _page(request, session, partner, outcome=outcome.summary)
