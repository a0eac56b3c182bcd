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

from types import ModuleType

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

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
