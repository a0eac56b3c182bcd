"""Who may do what in the console, and reading forms within bounds.

Pages take a ``SignedIn`` parameter (a valid session, else the sign-in page); a form that
changes something goes through :func:`require_change` (its CSRF token, and a key that is
not read-only). Forms are read with :func:`read_form`: a body over its limit or slower than
its time is refused before it is parsed to the end.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.types import Message

from ftpbridge.web.console import session as sessions
from ftpbridge.web.console.rendering import ConsoleProblem, console_of
from ftpbridge.web.console.session import Session
from ftpbridge.web.params import ascii_digits

SMALL_FORM_BYTES = 64_000
MULTIPART_OVERHEAD = 64_000


def signed_in(request: Request) -> Session:
    context = console_of(request)
    session = sessions.current(context.signer, context.store, request)
    request.state.key_name = session.key.name  # for the request log
    return session


SignedIn = Annotated[Session, Depends(signed_in)]
"""A route parameter typed ``SignedIn`` gets the request's session."""


def require_change(session: Session, form: FormData, what: str) -> None:
    """ConsoleProblem 403 unless the form carries the session's token and the key may
    change things."""
    token = form.get("csrf")
    if not isinstance(token, str) or not sessions.check_csrf(session, token):
        raise ConsoleProblem(
            "This form is out of date or did not come from this console, so nothing was done.",
            "Go back, reload the page and send the form again.",
            status=403,
        )
    refuse_read_only(session, what)


def refuse_read_only(session: Session, what: str) -> None:
    """ConsoleProblem 403 when the session's key is read-only (checked before an upload
    is read, too: a read-only key's file is not even received)."""
    if session.read_only:
        raise ConsoleProblem(
            f"You signed in with the read-only key {session.key.name!r}: it can look, but"
            f" it cannot {what}.",
            "Sign out and sign in with a key made without --read-only"
            " (ftpbridge api-key create NAME).",
            status=403,
        )


async def read_form(
    request: Request, *, limit: int, seconds: float, max_files: int = 0
) -> FormData:
    """The request's form (URL-encoded or multipart), refused with ConsoleProblem 413 when
    the body is over ``limit`` bytes and 408 when it takes longer than ``seconds``. Files
    over 1 MB are spooled to disk by Starlette's parser, never held in memory."""
    declared = request.headers.get("content-length", "")
    if ascii_digits(declared) and int(declared) > limit:
        raise _too_large(limit)
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
        return message

    bounded = Request(request.scope, receive)
    try:
        async with asyncio.timeout(seconds):
            return await bounded.form(max_files=max_files, max_fields=20)
    except TimeoutError:
        raise ConsoleProblem(
            f"The upload did not arrive within {seconds:g} seconds.",
            "Try again on a faster connection, or import the file with the ftpbridge command.",
            status=408,
        ) from None
    except ConsoleProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - the form parser's errors say what is wrong
        raise ConsoleProblem(
            f"The form could not be read: {exc}", "Reload the page and send it again."
        ) from None


def _too_large(limit: int) -> ConsoleProblem:
    return ConsoleProblem(
        f"What was sent is over the limit of {limit / 1e6:.1f} MB.",
        "Split the file, or ask the shop's admin to raise [daemon] max_file_bytes.",
        status=413,
    )
