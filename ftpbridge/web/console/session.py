"""The console's session: a signed cookie naming the API key someone signed in with.

The cookie holds ``{"sid": random id, "key": key id, "exp": unix time}`` and an
HMAC-SHA256 of it made with a secret kept in the store (``store/sessions.py``): any
replica verifies it, and no replica keeps anything in memory. It is ``HttpOnly``,
``SameSite=Strict``, ``Path=/console``, and ``Secure`` when the request came over TLS
(directly, or through a trusted proxy saying so). Every request checks that the key still
exists unrevoked and unscoped, and that the session was not signed out: a revoked key or
a sign-out ends the session on every replica at once.

CSRF: every form that changes something carries a token derived from the session's id
(HMAC); the sign-in form carries one derived from a short-lived pre-session cookie.
SameSite=Strict alone would already keep other sites' forms from carrying the cookie;
the tokens make that not depend on the browser.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from ftpbridge.store import Store, api_keys, sessions
from ftpbridge.store.api_keys import ApiKey
from ftpbridge.store.engine import utcnow

COOKIE = "ftpbridge_console"
SIGNIN_COOKIE = "ftpbridge_console_signin"
PATH = "/console"
LIFETIME = dt.timedelta(hours=12)
SIGNIN_LIFETIME = dt.timedelta(minutes=30)
MAX_COOKIE = 1024


class SignInRequired(Exception):
    """Raised when a page is asked for without a valid session (the answer: the sign-in
    page, saying why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoConsole(Exception):
    """Raised when a key may not use the console (a partner's key)."""


@dataclass(frozen=True)
class Session:
    """A signed-in person: the key they used (never the key itself), and the form token."""

    id: str
    key: ApiKey
    expires_at: dt.datetime
    csrf: str

    @property
    def read_only(self) -> bool:
        return self.key.read_only


class Signer:
    """Signs and verifies the console's cookies and tokens with the store's secret."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        # Read (or made) on first use, not when the app is built: `serve` starts even if
        # the store is briefly away, and every replica ends up with the same secret.
        if self._secret is None:
            self._secret = sessions.signing_secret(self._store, sessions.SESSION_PURPOSE, utcnow())
        return self._secret

    def mac(self, purpose: str, text: str) -> str:
        digest = hmac.new(self.secret, f"{purpose}:{text}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def seal(self, payload: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        text = body.rstrip(b"=").decode()
        return f"{text}.{self.mac('cookie', text)}"

    def unseal(self, value: str) -> dict[str, Any] | None:
        if not value or len(value) > MAX_COOKIE or value.count(".") != 1:
            return None
        text, mac = value.split(".")
        if not hmac.compare_digest(mac, self.mac("cookie", text)):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError):
            return None
        return payload if isinstance(payload, dict) else None


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start(signer: Signer, key: ApiKey, response: Response, request: Request) -> None:
    """Sign ``key`` in: set the session cookie on ``response``."""
    expires = utcnow() + LIFETIME
    value = signer.seal(
        {"sid": secrets.token_urlsafe(24), "key": key.id, "exp": int(expires.timestamp())}
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(LIFETIME.total_seconds()),
        path=PATH,
        secure=is_secure(request),
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(SIGNIN_COOKIE, path=PATH, secure=is_secure(request), httponly=True)


def current(signer: Signer, store: Store, request: Request) -> Session:
    """The request's session; SignInRequired (saying why) when there is none or it ended,
    NoConsole for a partner's key."""
    value = request.cookies.get(COOKIE)
    if not value:
        raise SignInRequired("Please sign in.")
    payload = signer.unseal(value)
    if payload is None:
        raise SignInRequired("Your session is not valid any more. Please sign in again.")
    now = utcnow()
    session_id, key_id, expiry = payload.get("sid"), payload.get("key"), payload.get("exp")
    if not isinstance(session_id, str) or not isinstance(key_id, int):
        raise SignInRequired("Your session is not valid any more. Please sign in again.")
    if not isinstance(expiry, int) or expiry <= now.timestamp():
        raise SignInRequired("Your session has expired. Please sign in again.")
    with store.connect() as connection:
        if sessions.is_signed_out(connection, session_id):
            raise SignInRequired("You signed out. Sign in again to go on.")
        key = api_keys.find_active_by_id(connection, key_id)
    if key is None:
        raise SignInRequired("The API key of your session was revoked. Sign in with another.")
    if key.partner is not None:
        raise NoConsole()
    expires_at = dt.datetime.fromtimestamp(expiry, dt.UTC)
    return Session(session_id, key, expires_at, signer.mac("csrf", session_id))


def end(store: Store, session: Session, response: Response, request: Request) -> None:
    """Sign out: refuse this session from now on, everywhere, and drop the cookie."""
    with store.begin() as connection:
        sessions.sign_out(connection, session.id, session.expires_at, utcnow())
    response.delete_cookie(COOKIE, path=PATH, secure=is_secure(request), httponly=True)


def check_csrf(session: Session, token: str) -> bool:
    return bool(token) and hmac.compare_digest(token.encode(), session.csrf.encode())


def signin_token(signer: Signer, request: Request, response: Response) -> str:
    """The sign-in form's token, tied to a pre-session cookie set on ``response``."""
    nonce = request.cookies.get(SIGNIN_COOKIE, "")
    if not (16 <= len(nonce) <= 64) or not nonce.replace("-", "").replace("_", "").isalnum():
        nonce = secrets.token_urlsafe(24)
    response.set_cookie(
        SIGNIN_COOKIE,
        nonce,
        max_age=int(SIGNIN_LIFETIME.total_seconds()),
        path=PATH,
        secure=is_secure(request),
        httponly=True,
        samesite="strict",
    )
    return signer.mac("signin", nonce)


def check_signin_token(signer: Signer, request: Request, token: str) -> bool:
    nonce = request.cookies.get(SIGNIN_COOKIE, "")
    if not nonce or not token or len(nonce) > 64:
        return False
    return hmac.compare_digest(token.encode(), signer.mac("signin", nonce).encode())
