"""Signing in (with an API key: the shop's keys; partners' keys get no console) and out."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from ftpbridge.store import api_keys
from ftpbridge.store.api_keys import ApiKey
from ftpbridge.web.console import session as sessions
from ftpbridge.web.console.access import SMALL_FORM_BYTES, SignedIn, read_form
from ftpbridge.web.console.rendering import ConsoleProblem, console_of, render
from ftpbridge.web.context import context_of

router = APIRouter()

REASONS = {
    "required": "Please sign in.",
    "expired": "Your session has expired. Please sign in again.",
    "signed-out": "You signed out. Sign in again to go on.",
    "revoked": "The API key of your session was revoked. Sign in with another.",
    "invalid": "Your session is not valid any more. Please sign in again.",
}


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console page, never another site."""
    if value and value.startswith("/console/") and not value.startswith("/console//"):
        return value[:500]
    return "/console/"


@router.get("/console/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str | None = None, reason: str | None = None) -> Response:
    return _sign_in_form(request, next=safe_next(next), notice=REASONS.get(reason or ""))


def _sign_in_form(
    request: Request,
    *,
    next: str = "/console/",
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The sign-in page with a fresh form token (its cookie set on the answer)."""
    cookies = Response()
    token = sessions.signin_token(console_of(request).signer, request, cookies)
    response = render(
        request,
        "sign_in.html",
        None,
        page="sign-in",
        title="Sign in",
        next=next,
        notice=notice,
        error=error,
        token=token,
        status=status,
    )
    for name, value in cookies.headers.items():
        if name.lower() == "set-cookie":
            response.headers.append("set-cookie", value)
    return response


@router.post("/console/sign-in")
async def sign_in(request: Request) -> Response:
    context = console_of(request)
    form = await read_form(request, limit=SMALL_FORM_BYTES, seconds=30)
    token = form.get("csrf")
    key_text = form.get("key")
    next_page = safe_next(str(form.get("next") or ""))
    if not isinstance(token, str) or not sessions.check_signin_token(
        context.signer, request, token
    ):
        raise ConsoleProblem(
            "The sign-in form is out of date, so you were not signed in.",
            "Open the sign-in page again and enter your key.",
            status=403,
        )
    key = key_text.strip() if isinstance(key_text, str) else ""
    found = await run_in_threadpool(_find, request, key) if key else None
    address = request.client.host if request.client else "unknown"
    api = context_of(request)
    if found is None:
        delay = api.throttle.failed(address)
        if delay:
            await asyncio.sleep(delay)
        return _again(request, "That key is unknown or was revoked." if key else "Enter a key.")
    api.throttle.succeeded(address)
    if found.partner is not None:
        return _again(
            request,
            f"The key {found.name!r} belongs to partner {found.partner}: partners' keys cannot"
            " use the console.",
            status=403,
        )
    response = RedirectResponse(next_page, status_code=303)
    sessions.start(context.signer, found, response, request)
    request.state.key_name = found.name
    return response


def _find(request: Request, key: str) -> ApiKey | None:
    with console_of(request).store.connect() as connection:
        return api_keys.find_active(connection, key)


def _again(request: Request, error: str, status: int = 401) -> Response:
    return _sign_in_form(request, error=error, status=status)


@router.post("/console/sign-out")
async def sign_out(request: Request, session: SignedIn) -> Response:
    form = await read_form(request, limit=SMALL_FORM_BYTES, seconds=30)
    token = form.get("csrf")
    if not isinstance(token, str) or not sessions.check_csrf(session, token):
        raise ConsoleProblem(
            "This form is out of date, so you are still signed in.",
            "Reload the page and press Sign out again.",
            status=403,
        )
    response = RedirectResponse("/console/sign-in?reason=signed-out", status_code=303)
    await run_in_threadpool(sessions.end, console_of(request).store, session, response, request)
    return response


def sign_in_redirect(request: Request, reason: str) -> Response:
    code = next((name for name, text in REASONS.items() if text == reason), "required")
    target = request.url.path if request.method == "GET" else "/console/"
    return RedirectResponse(
        f"/console/sign-in?reason={code}&next={quote(target, safe='/')}", status_code=303
    )
