"""The service around the routes: keys (HTTP Basic, Bearer, revoked, slowed down, logged
without the key), ``api-key`` commands, /healthz and /metrics, body limits, TLS, and a
SIGTERM that lets a request in flight finish and exits 0."""

from __future__ import annotations

import base64
import json
import signal
import socket
import ssl
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from ftpbridge.store import open_store
from ftpbridge.store.schema import api_keys
from tests.postgres import PostgresServer
from tests.servers import make_certificate, wait_for
from tests.web.conftest import Api, ServeProcess, make_keys


def test_keys_by_basic_and_bearer_and_what_a_wrong_one_gets(api: Api, run_cli) -> None:
    """Basic (any user name, the key as password) and Bearer work; no key, a wrong key and
    a revoked key get 401 with WWW-Authenticate and the error JSON; the log names the
    address and the key's name, never a key."""
    key = api.keys["acme-wms"]
    url = api.service.url
    assert httpx.get(url + "/api/v1/order", auth=("anyone", key)).status_code == 200
    bearer = httpx.get(url + "/api/v1/order", headers={"Authorization": f"Bearer {key}"})
    assert bearer.status_code == 200
    nothing = httpx.get(url + "/api/v1/order")
    assert nothing.status_code == 401
    assert nothing.headers["www-authenticate"].startswith('Basic realm="ftpbridge Orders API"')
    assert nothing.json() == {
        "status": "error",
        "reason": "no API key was sent",
        "hint": nothing.json()["hint"],
    }
    wrong = "fb_" + "x" * 43
    refused = httpx.get(url + "/api/v1/order", headers={"Authorization": f"Bearer {wrong}"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer ")
    assert refused.json()["reason"] == "the API key is unknown or was revoked"
    garbled = httpx.get(url + "/api/v1/order", headers={"Authorization": "Basic %%%"})
    assert garbled.status_code == 401
    revoked = run_cli("api-key", "revoke", "acme-wms")
    assert revoked.exit_code == 0
    assert "the Orders API refuses it within 5 seconds" in revoked.stdout
    wait_for(  # the service trusted the key for [api] key_cache_seconds (5) after its check
        lambda: httpx.get(url + "/api/v1/order", auth=("x", key)).status_code == 401,
        "the revoked key to be refused",
    )
    log = api.service.log()
    assert key not in log and wrong not in log
    refusals = [e for e in api.service.events() if e.get("event") == "API key refused"]
    assert len(refusals) == 4 and all(e["client"] == "127.0.0.1" for e in refusals)
    served = [e for e in api.service.events() if e.get("event") == "request"]
    assert {(e["status"], e["key"]) for e in served} >= {(200, "acme-wms"), (401, None)}
    assert all(isinstance(e["duration_ms"], float) for e in served)


def test_a_revoked_key_works_no_longer_than_key_cache_seconds(
    loaded_store, config_file: Path, run_cli
) -> None:
    """A process trusts a key the store found valid for [api] key_cache_seconds: revoked
    meanwhile, it still works there (here 60 s, so the next request is surely within);
    with 0 every request asks the store, and the next request after revoke is refused."""
    keys = make_keys(loaded_store)
    trusting = ServeProcess(config_file, env={"FTPBRIDGE_API__KEY_CACHE_SECONDS": "60"})
    asking = ServeProcess(config_file, env={"FTPBRIDGE_API__KEY_CACHE_SECONDS": "0"})
    try:
        for service in (trusting, asking):
            answer = httpx.get(service.url + "/api/v1/order", auth=("x", keys["acme-wms"]))
            assert answer.status_code == 200
        assert run_cli("api-key", "revoke", "acme-wms").exit_code == 0
        still = httpx.get(trusting.url + "/api/v1/order", auth=("x", keys["acme-wms"]))
        assert still.status_code == 200
        refused = httpx.get(asking.url + "/api/v1/order", auth=("x", keys["acme-wms"]))
        assert refused.status_code == 401
        other = httpx.get(trusting.url + "/api/v1/order", auth=("x", keys["ac-wms"]))
        assert other.status_code == 200  # a key not seen before is looked up, and works
    finally:
        trusting.close()
        asking.close()


def test_repeated_failures_from_one_address_are_slowed_down(api: Api) -> None:
    """Three wrong keys are answered at once; from the fourth on each answer waits, longer
    each time, and says so in Retry-After; a good key clears the count."""
    url = api.service.url + "/api/v1/order"
    for _ in range(3):
        quick = httpx.get(url, auth=("x", "wrong"))
        assert quick.status_code == 401 and "retry-after" not in quick.headers
    started = time.monotonic()
    slowed = httpx.get(url, auth=("x", "wrong"))
    assert time.monotonic() - started >= 0.5
    assert slowed.status_code == 401 and slowed.headers["retry-after"] == "1"
    started = time.monotonic()
    httpx.get(url, auth=("x", "wrong"))
    assert time.monotonic() - started >= 1.0
    assert httpx.get(url, auth=("x", api.keys["shop"])).status_code == 200
    assert "retry-after" not in httpx.get(url, auth=("x", "wrong")).headers


def test_last_use_of_a_key_is_recorded(api: Api) -> None:
    """A key's last_used_at is set when it is used (api-key list shows it)."""
    assert api.client("ac-wms").get("/api/v1/order").status_code == 200
    with api.store.connect() as connection:
        used = dict(connection.execute(select(api_keys.c.name, api_keys.c.last_used_at)).all())
    assert used["ac-wms"] is not None and used["shop"] is None


def test_api_key_commands(run_cli, loaded_store) -> None:
    """create prints the key once (stdout, only a hash kept), list shows names and scope and
    never a key, names are unique for ever, revoke twice and unknown names are errors."""
    made = run_cli("api-key", "create", "acme-wms", "--partner", "acme", "--read-only")
    assert made.exit_code == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("fb_") and len(key) == 46
    assert "shown once" in made.stderr
    with loaded_store.connect() as connection:
        stored = connection.execute(select(api_keys.c.key_hash)).scalars().all()
    assert key not in stored and len(stored[0]) == 64
    listed = run_cli("api-key", "list", "--format", "json")
    assert json.loads(listed.stdout)[0] | {"created": None} == {
        "name": "acme-wms",
        "partner": "acme",
        "read_only": True,
        "created": None,
        "last_used": None,
        "revoked": None,
    }
    table = run_cli("api-key", "list").stdout
    assert "acme-wms" in table and "read-only" in table and key not in table
    twice = run_cli("api-key", "create", "acme-wms")
    assert twice.exit_code == 2 and "already an API key named 'acme-wms'" in twice.stderr
    assert "Try:" in twice.stderr
    assert run_cli("api-key", "revoke", "acme-wms").exit_code == 0
    again = run_cli("api-key", "revoke", "acme-wms")
    assert again.exit_code == 2 and "already revoked" in again.stderr
    reused = run_cli("api-key", "create", "acme-wms")
    assert reused.exit_code == 2 and "never reused" in reused.stderr
    assert run_cli("api-key", "revoke", "nobody").exit_code == 2
    unknown_partner = run_cli("api-key", "create", "x", "--partner", "zeta")
    assert unknown_partner.exit_code == 2 and "no partner named 'zeta'" in unknown_partner.stderr
    bad_name = run_cli("api-key", "create", "a b")
    assert bad_name.exit_code == 2 and "cannot be an API key name" in bad_name.stderr


def test_healthz_and_metrics(api: Api) -> None:
    """/healthz answers 200 without a key; /metrics gives the Prometheus text with the
    requests, their latency and the store's items by partner and status."""
    assert api.client("shop").get("/api/v1/order").status_code == 200
    health = httpx.get(api.service.url + "/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    text = httpx.get(api.service.url + "/metrics").text
    assert 'ftpbridge_items{partner="acme",status="pending"} 13.0' in text
    assert 'ftpbridge_items{partner="acme",status="cancelled"} 1.0' in text
    assert 'ftpbridge_items{partner="ac",status="pending"} 4.0' in text
    assert "ftpbridge_store_up 1.0" in text
    assert (
        'ftpbridge_http_requests_total{method="GET",path="/api/v1/order",status="200"} 1.0' in text
    )
    assert 'ftpbridge_http_request_duration_seconds_count{path="/api/v1/order"} 1.0' in text


def test_healthz_says_503_when_the_store_does_not_answer(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """PostgreSQL refusing connections to the store's database: /healthz answers 503 and
    the API 503 with the error JSON; once it accepts them again, 200."""
    url = pg_server.create_database()
    name = url.rsplit("/", 1)[1]
    store = open_store(url)
    keys = make_keys(store)
    store.close()
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{url}"\n[partners.acme]\ndefault = true\n')
    service = ServeProcess(config)
    try:
        assert httpx.get(service.url + "/healthz").status_code == 200
        with pg_server.connect() as connection:
            connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        down = httpx.get(service.url + "/healthz")
        assert down.status_code == 503
        assert down.json() == {"status": "error", "reason": "the store does not answer"}
        api_down = httpx.get(service.url + "/api/v1/order", auth=("x", keys["shop"]))
        assert api_down.status_code == 503 and api_down.json()["status"] == "error"
        with pg_server.connect() as connection:
            connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert httpx.get(service.url + "/healthz").status_code == 200
        assert "Traceback" not in service.log()
    finally:
        service.close()
        pg_server.drop_database(name)


def test_bodies_over_the_limit_get_413(loaded_store, config_file: Path) -> None:
    """A body over [api] max_body_bytes is refused with 413, whether its Content-Length
    says so up front or it just keeps coming (chunked)."""
    keys = make_keys(loaded_store)
    service = ServeProcess(config_file, env={"FTPBRIDGE_API__MAX_BODY_BYTES": "2000"})
    try:
        auth = ("x", keys["shop"])
        big = json.dumps({"search": {"filter": "all", "terms": [["fan_email", "x" * 3000]]}})
        declared = httpx.post(service.url + "/api/v1/order", content=big, auth=auth)
        assert declared.status_code == 413
        assert "over the limit of 2,000 bytes" in declared.json()["reason"]

        def chunks():
            for _ in range(10):
                yield b" " * 500

        streamed = httpx.post(service.url + "/api/v1/order", content=chunks(), auth=auth)
        assert streamed.status_code == 413
        small = httpx.post(service.url + "/api/v1/order", json={}, auth=auth)
        assert small.status_code == 200
    finally:
        service.close()


def _answer_then_closed(client: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    answer = b""
    while chunk := client.recv(65536):
        answer += chunk
    return answer


def test_request_heads_are_bounded_in_size_and_time(loaded_store, config_file: Path) -> None:
    """A head (request line and headers) over 64 KB is answered 431, one that stops
    half-way and a connection that never sends are answered 408 and closed after
    [api] request_timeout_seconds; a client that behaves is served meanwhile and after."""
    keys = make_keys(loaded_store)
    service = ServeProcess(config_file, env={"FTPBRIDGE_API__REQUEST_TIMEOUT_SECONDS": "1.5"})
    try:
        parts = urlsplit(service.url)
        address = (parts.hostname, parts.port)
        with socket.create_connection(address, timeout=30) as huge:
            huge.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            for _ in range(40):  # 40 x 2 KB headers, never ended
                try:
                    huge.sendall(b"X-Filler: " + b"a" * 2048 + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    break
            answer = _answer_then_closed(huge)
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert b"over 65,536 bytes" in answer

        with (
            socket.create_connection(address, timeout=30) as stalled,
            socket.create_connection(address, timeout=30) as silent,
        ):
            stalled.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ")
            served = httpx.get(service.url + "/api/v1/order", auth=("x", keys["shop"]))
            assert served.status_code == 200  # the others wait on nobody
            stalled_answer = _answer_then_closed(stalled)
            silent_answer = _answer_then_closed(silent)  # (a recv past 30 s would raise)
        assert stalled_answer.startswith(b"HTTP/1.1 408 ")
        assert b"did not arrive within 1.5 seconds" in stalled_answer
        assert silent_answer.startswith(b"HTTP/1.1 408 ")
        assert httpx.get(service.url + "/healthz").status_code == 200
        assert "Traceback" not in service.log()
    finally:
        service.close()


def test_a_head_pipelined_behind_an_answer_waits_for_it(loaded_store, config_file: Path) -> None:
    """A head that starts, or grows past 64 KB, while the request before it on the
    connection is still being answered (here: a wrong key, answered after the slow-down's
    seconds) is timed and refused only once that answer is written: the client gets the
    answer to its first request, then 408 or 431, never a refusal in its place."""
    service = ServeProcess(config_file, env={"FTPBRIDGE_API__REQUEST_TIMEOUT_SECONDS": "1"})
    try:
        parts = urlsplit(service.url)
        wrong = base64.b64encode(b"x:wrong").decode()
        first = (
            f"GET /api/v1/order HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {wrong}\r\n\r\n"
        ).encode()
        for _ in range(6):  # three free failures, then 0.5, 1 and 2 s: the next waits 4 s
            assert httpx.get(service.url + "/api/v1/order", auth=("x", "wrong")).status_code == 401

        def refused_count() -> int:
            return sum(e.get("event") == "API key refused" for e in service.events())

        for pipelined, status in (
            (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ", b"408"),  # stops (4 s answer)
            (b"GET /healthz HTTP/1.1\r\n" + b"X-Filler: a\r\n" * 8000, b"431"),  # (8 s answer)
        ):
            before = refused_count()
            with socket.create_connection((parts.hostname, parts.port), timeout=30) as client:
                client.sendall(first)
                wait_for(lambda before=before: refused_count() > before, "the first request")
                client.sendall(pipelined)  # while the first is answered, seconds from now
                answer = _answer_then_closed(client)
            assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
            second = answer.split(b"HTTP/1.1 ")[2]
            assert second.startswith(status + b" "), answer[-300:]
        assert "Traceback" not in service.log()
    finally:
        service.close()


def test_tls_directly(loaded_store, config_file: Path, tmp_path: Path) -> None:
    """[api] tls_cert / tls_key: the service speaks HTTPS with that certificate."""
    keys = make_keys(loaded_store)
    certificate = make_certificate(tmp_path / "tls")
    service = ServeProcess(
        config_file,
        env={
            "FTPBRIDGE_API__TLS_CERT": str(certificate.cert_file),
            "FTPBRIDGE_API__TLS_KEY": str(certificate.cert_file),
        },
    )
    try:
        assert service.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(certificate.ca_file))
        answer = httpx.get(service.url + "/api/v1/order", auth=("x", keys["shop"]), verify=context)
        assert answer.status_code == 200 and answer.json()["total_entries"] == 11
    finally:
        service.close()


def test_a_missing_tls_file_is_a_config_error(config_file: Path, cli_subprocess) -> None:
    """A TLS file that cannot be read stops serve at once with Error:/Try:, exit 2."""
    finished = cli_subprocess(
        "--config",
        str(config_file),
        "serve",
        cwd=config_file.parent,
        env={"FTPBRIDGE_API__TLS_CERT": "/nonexistent.pem", "FTPBRIDGE_API__TLS_KEY": "/x.pem"},
    )
    assert finished.returncode == 2
    assert "Error: cannot use the TLS certificate /nonexistent.pem" in finished.stderr
    assert "Try:" in finished.stderr and "Traceback" not in finished.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_lets_the_request_in_flight_finish_then_exits_0(api: Api, sig: int) -> None:
    """SIGTERM (or Ctrl+C) while a request is half sent: the server stops taking new
    connections, the request is still answered in full, and the process exits 0."""
    parts = urlsplit(api.service.url)
    body = json.dumps({"search": {"filter": "all", "page_size": 3}}).encode()
    credentials = base64.b64encode(f"x:{api.keys['shop']}".encode()).decode()
    head = (
        f"POST /api/v1/order HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Basic {credentials}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as client:
        client.sendall(head + body[:10])
        wait_for(
            lambda: (
                any(e.get("event") == "API key refused" for e in api.service.events())
                or _seen_request_start(api)
            ),
            "the request to be taken",
        )
        api.service.process.send_signal(sig)
        wait_for(
            lambda: any(e.get("event") == "Shutting down" for e in api.service.events()),
            "the server to begin its shutdown",
        )
        client.sendall(body[10:])
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["total_entries"] == 12
    assert api.service.process.wait(timeout=30) == 0
    assert "ftpbridge stopped serving" in [e.get("event") for e in api.service.events()]


def _seen_request_start(api: Api) -> bool:
    # The key is checked before the body is read: its last use is then recorded.
    with api.store.connect() as connection:
        used = connection.execute(
            select(api_keys.c.last_used_at).where(api_keys.c.name == "shop")
        ).scalar()
    return used is not None
