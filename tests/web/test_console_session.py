"""The console's sign-in, session cookie and CSRF over HTTP against a real ``ftpbridge
serve`` (both store backends): who gets in, what a cookie must be, what a form must carry."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import httpx

from ftpbridge.store import Store, api_keys
from ftpbridge.store.engine import utcnow
from tests.servers import make_certificate
from tests.web.conftest import Api, ServeProcess, make_keys


def console_client(api: Api) -> httpx.Client:
    client = httpx.Client(base_url=api.service.url, timeout=60, follow_redirects=False)
    api.clients.append(client)
    return client


def form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: httpx.Client, key: str) -> httpx.Response:
    page = client.get("/console/sign-in")
    assert page.status_code == 200
    return client.post(
        "/console/sign-in", data={"csrf": form_token(page.text), "key": key, "next": "/console/"}
    )


def test_without_a_session_the_sign_in_page_answers(api: Api) -> None:
    """Without a session the home page answers with the sign-in page (303), saying where
    to come back to; the sign-in page itself is served with its security headers."""
    client = console_client(api)
    answer = client.get("/console/")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/sign-in?reason=required&next=")
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and "Please sign in." in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_the_shops_key_signs_in_with_a_strict_http_only_cookie(api: Api) -> None:
    """The shop's key signs in: a session cookie HttpOnly, SameSite=Strict, Path=/console,
    not Secure over plain HTTP, holding no key; the Partners page then answers 200."""
    client = console_client(api)
    answer = sign_in(client, api.keys["shop"])
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    cookie = next(
        value
        for value in answer.headers.get_list("set-cookie")
        if value.startswith("ftpbridge_console=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie
    assert api.keys["shop"] not in cookie
    page = client.get("/console/")
    assert page.status_code == 200 and "Signed in with <strong>shop</strong>" in page.text


def test_a_wrong_key_and_a_partners_key_are_refused(api: Api) -> None:
    """An unknown key is refused (401, the form again, Error: in words); a partner's key
    is refused with 403 naming the partner: partners' keys get no console."""
    client = console_client(api)
    wrong = sign_in(client, "fb_not-a-key")
    assert wrong.status_code == 401
    assert "That key is unknown or was revoked." in wrong.text
    partner = sign_in(client, api.keys["acme-wms"])
    assert partner.status_code == 403
    assert "belongs to partner acme" in partner.text
    assert client.get("/console/").status_code == 303


def test_the_sign_in_form_needs_its_token(api: Api) -> None:
    """A sign-in posted without the form's token (another site's form) signs no one in."""
    client = console_client(api)
    answer = client.post("/console/sign-in", data={"key": api.keys["shop"], "csrf": "forged"})
    assert answer.status_code == 403
    assert "Error:" in answer.text and "Try:" in answer.text
    assert "ftpbridge_console=" not in ";".join(answer.headers.get_list("set-cookie"))


def test_a_tampered_or_foreign_cookie_is_refused(api: Api) -> None:
    """A cookie changed by one character, or signed by another store's secret, is no
    session."""
    client = console_client(api)
    sign_in(client, api.keys["shop"])
    value = client.cookies["ftpbridge_console"]
    body, mac = value.split(".")
    flipped = ("A" if body[5] != "A" else "B").join((body[:5], body[6:]))
    for forged in (f"{flipped}.{mac}", f"{body}.{mac[:-2]}xx", "garbage"):
        other = console_client(api)
        other.cookies.set("ftpbridge_console", forged, path="/console")
        answer = other.get("/console/")
        assert answer.status_code == 303 and "reason=invalid" in answer.headers["location"]


def test_sign_out_needs_the_token_and_ends_the_session_everywhere(api: Api) -> None:
    """Signing out without the form's token does nothing; with it, the cookie is cleared
    and the same cookie replayed later is refused (the store remembers the sign-out)."""
    client = console_client(api)
    sign_in(client, api.keys["shop"])
    page = client.get("/console/")
    cookie = client.cookies["ftpbridge_console"]
    refused = client.post("/console/sign-out", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert client.get("/console/").status_code == 200
    done = client.post("/console/sign-out", data={"csrf": form_token(page.text)})
    assert done.status_code == 303 and "reason=signed-out" in done.headers["location"]
    replay = console_client(api)
    replay.cookies.set("ftpbridge_console", cookie, path="/console")
    answer = replay.get("/console/")
    assert answer.status_code == 303 and "reason=signed-out" in answer.headers["location"]


def test_revoking_the_key_ends_its_sessions(api: Api, loaded_store: Store) -> None:
    """A session lasts only as long as its key: revoked, the next page asks to sign in."""
    client = console_client(api)
    sign_in(client, api.keys["shop"])
    assert client.get("/console/").status_code == 200
    with loaded_store.begin() as connection:
        api_keys.revoke(connection, "shop", utcnow())
    answer = client.get("/console/")
    assert answer.status_code == 303 and "reason=revoked" in answer.headers["location"]


def test_the_cookie_is_secure_over_tls(
    loaded_store: Store, config_file: Path, tmp_path: Path
) -> None:
    """Served over HTTPS, the session cookie (and the sign-in form's) is Secure."""
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
        context = ssl.create_default_context(cafile=str(certificate.ca_file))
        with httpx.Client(base_url=service.url, verify=context, timeout=60) as client:
            answer = sign_in(client, keys["shop"])
            assert answer.status_code == 303
            cookies = answer.headers.get_list("set-cookie")
            session = next(c for c in cookies if c.startswith("ftpbridge_console="))
            assert "Secure" in session and "HttpOnly" in session
    finally:
        service.close()
