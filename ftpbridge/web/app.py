"""The ASGI app: ``create_app(settings, store)``.

FastAPI on Starlette: one router per area, the key check as one dependency
(``auth.require_key``), the OpenAPI page at ``/docs`` documenting our paths beside
Topspin's. Everything the app needs is passed in and kept on ``app.state`` (nothing in
module globals but the process's Prometheus counters), so several apps, or replicas, never
share anything but the store.

Every answer that is not a success has the Topspin error shape ``{"status": "error",
"reason": ...}`` (plus ``hint``, and ``errors`` listing each refused item or order).
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftpbridge import __version__, metrics
from ftpbridge.errors import FtpbridgeError, RequestError, StoreError
from ftpbridge.settings import Settings
from ftpbridge.store import Store
from ftpbridge.web import console, health, intake, orders, skus, updates
from ftpbridge.web.context import ApiContext

logger = structlog.get_logger()


def error_body(reason: str, hint: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "error", "reason": reason}
    if hint:
        body["hint"] = hint
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


def create_app(settings: Settings, store: Store) -> FastAPI:
    """The Orders API over ``store``, configured by ``settings.api``."""
    app = FastAPI(
        title="ftpbridge Orders API",
        version=__version__,
        description=(
            "Topspin's Orders API (View Orders, Update Orders, batch_update) and SKU API"
            " (View SKUs, Update SKUs) over the ftpbridge store, plus ftpbridge's own paths:"
            " /api/v1/sku/add and /api/v1/sku/remove, POST /api/v1/orders (orders in),"
            " GET /api/v1/orders/{id}, /healthz and /metrics. Authenticate with HTTP Basic"
            " (any user name, the API key as the password) or Authorization: Bearer KEY."
        ),
    )
    app.state.context = ApiContext(settings, store)
    app.state.store_metrics = health.store_registry(store)
    app.include_router(orders.router)
    app.include_router(updates.router)
    app.include_router(intake.router)
    app.include_router(skus.router)
    app.include_router(health.router)
    _install_error_handlers(app)
    console.install(app, settings, store)  # the ops console (issue 16): /console
    app.add_middleware(RequestLog)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    def json_error(
        status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        return (
            orders.json_response(body, status)
            if not headers
            else _with_headers(orders.json_response(body, status), headers)
        )

    async def request_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestError)
        return json_error(
            exc.status, error_body(exc.message, exc.hint, errors=exc.errors), exc.headers
        )

    async def store_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StoreError)
        logger.warning("request failed: the store", error=exc.message)
        return json_error(503, error_body(exc.message, exc.hint), {"Retry-After": "10"})

    async def ftpbridge_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FtpbridgeError)
        return json_error(400, error_body(exc.message, exc.hint))

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        reason = {
            404: "there is nothing at this path",
            405: "this path does not take this method",
        }.get(exc.status_code, str(exc.detail))
        hint = (
            "see /docs for the paths and their methods" if exc.status_code in (404, 405) else None
        )
        return json_error(exc.status_code, error_body(reason, hint), dict(exc.headers or {}))

    async def validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return json_error(400, error_body(f"{where}: {first.get('msg', 'invalid')}"))

    async def unexpected(_request: Request, exc: Exception) -> Response:
        logger.exception("request failed unexpectedly")
        return json_error(
            500,
            error_body(
                "internal error: the request could not be served; it was logged",
                "try again; if it keeps failing, tell the shop's ops with the time of the request",
            ),
        )

    app.add_exception_handler(RequestError, request_error)
    app.add_exception_handler(StoreError, store_error)
    app.add_exception_handler(FtpbridgeError, ftpbridge_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)


def _with_headers(response: Response, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response.headers[name] = value
    return response


class RequestLog:
    """Pure ASGI middleware: one ``request`` log event per HTTP request (method, path,
    status, duration, key name, client; never the key) and the request metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        scope.setdefault("state", {})

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "other"
            metrics.HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
            metrics.HTTP_LATENCY.labels(template).observe(seconds)
            client = scope.get("client")
            log = logger.info if status < 500 else logger.error
            log(
                "request",
                method=scope["method"],
                path=scope["path"][:200],
                status=status,
                duration_ms=round(seconds * 1000, 1),
                key=scope["state"].get("key_name"),
                client=client[0] if client else None,
            )
