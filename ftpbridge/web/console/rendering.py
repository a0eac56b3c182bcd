"""Pages as HTML: the Jinja2 environment (autoescaping on for every template, so a name
or reason with HTML in it is shown as text), the headers every page carries, and the
answers for a problem (an HTML page saying what is wrong and what to do).

Content-Security-Policy allows only ftpbridge's own scripts, styles and images: an
injected ``<script>`` would not run even if escaping failed somewhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from ftpbridge import __version__
from ftpbridge.settings import Settings
from ftpbridge.store import Store
from ftpbridge.web.console.session import Session, Signer

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavEntry:
    """A page in the console's menu. Pages of other areas (notifications, stock) add an
    entry to ``ConsoleContext.nav`` and include their router: see ``console/__init__``."""

    path: str
    label: str
    page: str


@dataclass
class ConsoleContext:
    """What the console's routes need, built once per app (on ``app.state.console``)."""

    settings: Settings
    store: Store
    signer: Signer
    environment: Environment
    nav: list[NavEntry] = field(default_factory=list)


class ConsoleProblem(Exception):
    """Raised by a console route to answer with an error page: what is wrong (``message``)
    and what to do (``hint``)."""

    def __init__(self, message: str, hint: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("ftpbridge.web.console", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["count"] = count
    env.filters["size"] = size
    return env


def console_of(request: Request) -> ConsoleContext:
    context: ConsoleContext = request.app.state.console
    return context


def render(
    request: Request,
    template: str,
    session: Session | None,
    *,
    page: str,
    title: str,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    context = console_of(request)
    html = context.environment.get_template(template).render(
        session=session,
        page=page,
        title=title,
        nav=context.nav,
        version=__version__,
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def when(value: dt.datetime | str | None, empty: str = "never") -> str:
    """A time for people: ``2026-12-01 14:05 UTC``."""
    if value is None or value == "":
        return empty
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 row``, ``2 rows``, ``1,234 items``."""
    word = noun if number == 1 else (plural or noun + "s")
    return f"{number:,} {word}"


def size(number: int) -> str:
    if number < 1_000:
        return count(number, "byte")
    if number < 1_000_000:
        return f"{number / 1_000:.1f} kB"
    return f"{number / 1_000_000:.1f} MB"
