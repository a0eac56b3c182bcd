"""API keys on requests: ``Authorization: Basic`` (any user name, the key as the password:
how Topspin's clients send "e-mail + API key") or ``Authorization: Bearer KEY``.

A missing or wrong key is answered 401 with ``WWW-Authenticate`` and the error JSON; the
attempt is logged (address, scheme, user name; never the key) and repeated failures from
one address are answered more and more slowly (see :mod:`ftpbridge.web.throttle`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
from dataclasses import replace
from typing import Annotated

import structlog
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ftpbridge.errors import RequestError
from ftpbridge.store import api_keys
from ftpbridge.store.api_keys import ApiKey
from ftpbridge.store.engine import utcnow
from ftpbridge.web.context import ApiContext, context_of

logger = structlog.get_logger()

REALM = "ftpbridge Orders API"
_HINT = (
    "send the key as the password of HTTP Basic authentication (any user name), e.g."
    " curl -u you:KEY ..., or as Authorization: Bearer KEY; ftpbridge api-key create makes one"
)


def _credentials(request: Request) -> tuple[str, str, str]:
    """(scheme, user name, key) from the Authorization header; ("", "", "") if none."""
    header = request.headers.get("authorization", "")
    if len(header) > 4096:
        return "oversized", "", ""
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer":
        return "bearer", "", value
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "basic", "", ""
        user, _, key = decoded.partition(":")
        return "basic", user, key
    return scheme, "", ""


def _verify(context: ApiContext, key: str) -> ApiKey | None:
    now = utcnow()
    with context.store.connect() as connection:
        found = api_keys.find_active(connection, key)
    if found is not None and api_keys.needs_touch(found, now):
        with context.store.begin() as connection:
            api_keys.touch(connection, found, now)
        found = replace(found, last_used_at=now)
    if found is not None:
        context.keys.put(key, found)
    return found


def _remembered(context: ApiContext, key: str) -> ApiKey | None:
    """The key from the process's cache (see :mod:`ftpbridge.web.keycache`), unless its
    last use is due to be written (once a minute: then the store is asked and told)."""
    found = context.keys.get(key)
    if found is None or api_keys.needs_touch(found, utcnow()):
        return None
    return found


async def require_key(request: Request) -> ApiKey:
    """The request's valid API key, or RequestError 401 (after the address's delay)."""
    context = context_of(request)
    scheme, user, key = _credentials(request)
    found = (
        (_remembered(context, key) or await run_in_threadpool(_verify, context, key))
        if key
        else None
    )
    address = request.client.host if request.client else "unknown"
    if found is not None:
        context.throttle.succeeded(address)
        request.state.key_name = found.name
        return found
    delay = context.throttle.failed(address)
    reason = "no API key was sent" if not key else "the API key is unknown or was revoked"
    logger.warning(
        "API key refused",
        client=address,
        scheme=scheme or None,
        user=user[:80] or None,
        reason=reason,
        delayed_seconds=delay or None,
        path=request.url.path,
    )
    if delay:
        await asyncio.sleep(delay)
    challenge = (
        f'Bearer realm="{REALM}", error="invalid_token"'
        if scheme == "bearer"
        else f'Basic realm="{REALM}", charset="UTF-8"'
    )
    headers = {"WWW-Authenticate": challenge}
    if delay:
        headers["Retry-After"] = str(math.ceil(delay))
    raise RequestError(reason, status=401, hint=_HINT, headers=headers)


def require_writer(key: ApiKey, what: str) -> None:
    """RequestError 403 when ``key`` is read-only."""
    if key.read_only:
        raise RequestError(
            f"the API key {key.name!r} is read-only; it cannot {what}",
            status=403,
            hint="use a key made without --read-only (ftpbridge api-key create NAME)",
        )


def require_shop(key: ApiKey, what: str) -> None:
    """RequestError 403 when ``key`` is scoped to a partner (only the shop's key may)."""
    if key.partner is not None:
        raise RequestError(
            f"the API key {key.name!r} belongs to partner {key.partner}; only the shop's key"
            f" (made without --partner) can {what}",
            status=403,
            hint="ask the shop to do it, or use the shop's key",
        )


Key = Annotated[ApiKey, Depends(require_key)]
"""A route parameter typed ``Key`` gets the request's checked key."""
