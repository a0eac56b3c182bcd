"""Serving the app with uvicorn, alone (``ftpbridge serve``) or beside the scheduler
(``ftpbridge run`` with ``[api] listen``).

Who owns SIGTERM/SIGINT:

- ``serve``: uvicorn, in the main thread. It stops accepting, lets requests in flight
  finish (at most ``GRACE_SECONDS``) and returns; its habit of raising the signal again
  afterwards meets a do-nothing handler installed first, so the process exits 0.
- ``run``: the daemon (its handlers set its stop event); uvicorn runs in a thread of its
  own without signal handlers, and is told to stop (``should_exit``) when the daemon
  stops, in parallel with the jobs finishing; both finish within the daemon's grace.

The listening socket is bound here, before uvicorn starts: a port in use or a TLS file
that cannot be read is a clear error at once, and port 0 gives a free port (logged).
"""

from __future__ import annotations

import gc
import signal
import socket
import ssl
import threading
from typing import Any

import structlog
import uvicorn

from ftpbridge.errors import ConfigError
from ftpbridge.settings import ApiSettings, Settings
from ftpbridge.store import Store
from ftpbridge.web.app import create_app
from ftpbridge.web.protocol import bounded_protocol

logger = structlog.get_logger()

GRACE_SECONDS = 20.0


def bind(api: ApiSettings) -> socket.socket:
    """The listening socket for ``api.listen``; ConfigError naming it when it cannot be."""
    host, port = api.host, api.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets whose proto
    # says TCP; with proto 0 every keep-alive answer waited 40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(256)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {api.listen}: {exc.strerror}",
            hint="choose another [api] listen address or port, or stop what uses it",
        ) from None
    sock.set_inheritable(True)
    return sock


def _check_tls(api: ApiSettings, settings: Settings) -> dict[str, Any]:
    if api.tls_cert is None or api.tls_key is None:
        return {}
    cert = settings.resolve(api.tls_cert)
    key = settings.resolve(api.tls_key)
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot use the TLS certificate {cert} with the key {key}: {exc}",
            hint="check [api] tls_cert and tls_key (PEM files the service user can read)",
        ) from None
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def settle_heap() -> None:
    """Move everything made so far (modules, the app, the settings: some hundreds of
    thousands of objects that live as long as the process) out of the garbage collector's
    sight, so that its full collections look at what requests make, not at them.

    A full collection of the unfrozen heap took about 60 ms and fell, unannounced, on
    some request (one in 30-40 updates of 1,000 items answered in 35-77 ms instead of
    17 ms); frozen, the collector's share of such an update is 0.25 ms instead of 1.6 ms.
    Nothing frozen is lost: these objects are never freed before the process ends."""
    gc.collect()
    gc.freeze()


class ApiServer:
    """One uvicorn server for the app over ``store``."""

    def __init__(self, settings: Settings, store: Store) -> None:
        api = settings.api
        tls = _check_tls(api, settings)
        self.scheme = "https" if tls else "http"
        self.socket = bind(api)
        address = self.socket.getsockname()
        self.port: int = address[1]
        self.host: str = api.host
        config = uvicorn.Config(
            create_app(settings, store),
            log_config=None,
            access_log=False,
            lifespan="off",
            proxy_headers=bool(api.trusted_proxies),
            forwarded_allow_ips=",".join(api.trusted_proxies) or None,
            server_header=False,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=int(GRACE_SECONDS),
            # httptools (llhttp, C) with the head bounded (web/protocol.py), on uvloop where
            # it is installed (every platform but Windows): a small request's HTTP work
            # in about half the CPU of h11 on asyncio's loop (docs/benchmarks.md).
            http=bounded_protocol(api.request_timeout_seconds),
            loop="auto",
            **tls,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        settle_heap()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def serve_forever(self) -> int:
        """Serve in this (the main) thread until SIGTERM/SIGINT; return the exit code."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)  # see the module doc
        logger.info("ftpbridge serving", url=self.url)
        self.server.run(sockets=[self.socket])
        logger.info("ftpbridge stopped serving")
        return 0 if self.server.started else 3

    def start(self) -> None:
        """Serve in a thread of its own (no signal handlers: see the module doc)."""
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            name="ftpbridge-api",
            daemon=True,
        )
        self._thread.start()
        logger.info("ftpbridge serving", url=self.url)

    def request_stop(self) -> None:
        self.server.should_exit = True

    def join(self, timeout: float) -> bool:
        """Wait for the server thread; True when it finished."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        if stopped:
            logger.info("ftpbridge stopped serving")
        return stopped
