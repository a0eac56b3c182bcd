"""The ops console: server-rendered pages for shop ops, served beside the Orders API.

``install(app, settings, store)`` is the one place the console joins the app (see
``web/app.py``): its routers under ``/console``, its static files, and the answers for a
missing session, a partner's key and a problem. The pages: Partners (home), Files,
Orders, Export, Import; each module owns one page and its routes.

Adding a page of another area (notifications, low-stock SKUs): write a module with an
``APIRouter`` whose routes take ``SignedIn`` and render through ``rendering.render``, then
add it to ``PAGES`` below with its menu entry. Nothing else needs to change.
"""

from __future__ import annotations

import inspect
from types import ModuleType

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ftpbridge.errors import FtpbridgeError, StoreError
from ftpbridge.settings import Settings
from ftpbridge.store import Store
from ftpbridge.web.console import exports, files, imports, orders, partners, signin
from ftpbridge.web.console.rendering import (
    ConsoleContext,
    ConsoleProblem,
    NavEntry,
    environment,
    render,
)
from ftpbridge.web.console.session import NoConsole, Signer, SignInRequired

logger = structlog.get_logger()

PAGES: list[tuple[ModuleType, NavEntry | None]] = [
    (signin, None),
    (partners, NavEntry("/console/", "Partners", "partners")),
    (files, NavEntry("/console/files", "Files", "files")),
    (orders, NavEntry("/console/orders", "Orders", "orders")),
    (exports, NavEntry("/console/export", "Export", "export")),
    (imports, NavEntry("/console/import", "Import", "import")),
]


def install(app: FastAPI, settings: Settings, store: Store) -> None:
    """Serve the console from ``app``."""
    context = ConsoleContext(settings, store, Signer(store), environment())
    for module, entry in PAGES:
        app.include_router(module.router, include_in_schema=False)
        if entry is not None:
            context.nav.append(entry)
    app.state.console = context
    app.mount(
        "/console/static",
        StaticFiles(packages=[("ftpbridge.web.console", "static")]),
        name="console-static",
    )

    async def to_console(_request: Request) -> Response:
        return RedirectResponse("/console/", status_code=307)

    app.add_route("/console", to_console, include_in_schema=False)
    app.add_route("/", to_console, include_in_schema=False)
    _install_answers(app)


def _install_answers(app: FastAPI) -> None:
    async def sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return signin.sign_in_redirect(request, exc.reason)

    async def no_console(request: Request, _exc: Exception) -> Response:
        return render(
            request,
            "problem.html",
            None,
            page="problem",
            title="No console for this key",
            message="The key you signed in with belongs to a partner: partners' keys cannot"
            " use the console.",
            hint="Sign in with one of the shop's keys (made without --partner).",
            status=403,
        )

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConsoleProblem)
        return render(
            request,
            "problem.html",
            None,
            page="problem",
            title="Something needs your attention",
            message=exc.message,
            hint=exc.hint,
            status=exc.status,
        )

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(NoConsole, no_console)
    app.add_exception_handler(ConsoleProblem, problem)
    # The API's answers are JSON; under /console the same errors are answered as a page.
    for kind in (
        StoreError,
        FtpbridgeError,
        StarletteHTTPException,
        RequestValidationError,
        Exception,
    ):
        _as_page_under_console(app, kind)


def _as_page_under_console(app: FastAPI, kind: type[Exception]) -> None:
    api_answer = app.exception_handlers.get(kind)

    async def answer(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/console") and api_answer is not None:
            answered = api_answer(request, exc)
            return await answered if inspect.isawaitable(answered) else answered
        message, hint, status = _page_for(exc)
        if status >= 500:
            logger.exception("console request failed", error=message)
        return render(
            request,
            "problem.html",
            None,
            page="problem",
            title="Something needs your attention",
            message=message,
            hint=hint,
            status=status,
        )

    app.add_exception_handler(kind, answer)


def _page_for(exc: Exception) -> tuple[str, str, int]:
    """(what is wrong, what to do, status) for an error met under /console."""
    if isinstance(exc, StoreError):
        return exc.message, exc.hint or "Try again in a minute.", 503
    if isinstance(exc, FtpbridgeError):
        return exc.message, exc.hint or "Go back and check what you sent.", 400
    if isinstance(exc, RequestValidationError):
        return (
            "The address holds a value the console cannot use (a number was expected).",
            "Start again from the menu.",
            400,
        )
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return "There is no console page at this address.", "Start from the menu.", 404
        return str(exc.detail), "Go back and try again.", exc.status_code
    return (
        "The console could not answer this request; it was logged.",
        "Try again; if it keeps failing, tell the shop's admin the time it happened.",
        500,
    )
