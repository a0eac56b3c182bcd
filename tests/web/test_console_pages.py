"""The console's pages over HTTP against a real ``ftpbridge serve`` (both store backends):
no page or download without a session, read-only keys see but cannot change, every form
that changes something needs its token, uploads are bounded and belong to their session,
and an import by hand is applied exactly once."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from ftpbridge.store import Store, api_keys
from ftpbridge.store.engine import driver_sql, utcnow
from tests.web.conftest import Api, ServeProcess, make_keys
from tests.web.test_console_session import console_client, form_token, sign_in

UPS = "1Z5R89390357567127"
PAGES = (
    "/console/",
    "/console/files",
    "/console/files/1",
    "/console/files/1/original",
    "/console/files/1/report",
    "/console/orders?q=1",
    "/console/orders/item?id=1001",
    "/console/export?partner=acme",
    "/console/import",
)
FORMS = (
    "/console/import/check",
    "/console/import/apply",
    "/console/import/cancel",
    "/console/export/download",
    "/console/export/upload",
    "/console/sign-out",
)


def updated_file(rows: list[tuple[str, str]]) -> bytes:
    today = utcnow().date().isoformat()
    lines = ["order_id,item_id,shipped,shipped_date,carrier,tracking_number"]
    lines += [f"{order},{item},TRUE,{today},UPS,{UPS}" for order, item in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def signed_in(api: Api, key_name: str = "shop") -> tuple[httpx.Client, str]:
    """A client signed in with the named key, and its form token."""
    client = console_client(api)
    assert sign_in(client, api.keys[key_name]).status_code == 303
    page = client.get("/console/import")
    assert page.status_code == 200
    return client, form_token(page.text)


def check(client: httpx.Client, token: str, content: bytes, name: str = "up.csv") -> httpx.Response:
    return client.post(
        "/console/import/check",
        data={"csrf": token, "partner": "acme"},
        files={"file": (name, content, "text/csv")},
    )


def upload_token(page: str) -> str:
    found = re.search(r'name="upload" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def status_of(store: Store, item: str) -> str:
    with store.connect() as connection:
        value = connection.exec_driver_sql(
            driver_sql(connection, "SELECT status FROM items WHERE id = ?"), (item,)
        )
        return str(value.scalar())


def test_no_page_download_or_form_without_a_session(api: Api) -> None:
    """Every page and download of the console answers the sign-in page without a session
    (saying where to come back to), and so does every form that changes something."""
    client = console_client(api)
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/console/sign-in?reason=required"), path
    for path in FORMS:
        answer = client.post(path, data={"csrf": "x"})
        assert answer.status_code == 303, path
        assert "/console/sign-in" in answer.headers["location"], path


def test_every_page_renders_for_the_shop(api: Api) -> None:
    """Signed in, every page answers 200 with its title and the security headers."""
    client, _token = signed_in(api)
    for path in PAGES:
        if "/original" in path or "/report" in path or path == "/console/files/1":
            continue
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert "<h1>" in answer.text


def test_bad_filters_are_refused_with_a_hint(api: Api) -> None:
    """An unknown filter value answers 400 with Error: and Try: in words, not a traceback."""
    client, _token = signed_in(api)
    for path in (
        "/console/files?outcome=nonsense",
        "/console/files?partner=nobody",
        "/console/orders?filter=everything",
        "/console/orders?field=password",
        "/console/export?partner=nobody",
    ):
        answer = client.get(path)
        assert answer.status_code == 400, path
        assert "<strong>Error:</strong>" in answer.text and "<strong>Try:</strong>" in answer.text
    missing = client.get("/console/files/999999")
    assert missing.status_code == 404 and "no file number 999999" in missing.text


def test_a_read_only_key_sees_but_cannot_import_or_export(api: Api, loaded_store: Store) -> None:
    """A read-only key signs in and sees the pages, with the buttons disabled; its posted
    import and export are refused (403, naming the key) and nothing changes."""
    with loaded_store.begin() as connection:
        _key, api.keys["reader"] = api_keys.create(
            connection, "reader", partner=None, read_only=True, now=utcnow()
        )
    client, token = signed_in(api, "reader")
    page = client.get("/console/export?partner=acme")
    assert page.status_code == 200 and "disabled" in page.text
    refused = check(client, token, updated_file([("1", "1001")]))
    assert refused.status_code == 403 and "read-only key &#39;reader&#39;" in refused.text
    exported = client.post("/console/export/download", data={"csrf": token, "partner": "acme"})
    assert exported.status_code == 403
    assert status_of(loaded_store, "1001") == "pending"
    with loaded_store.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM files").scalar() == 0


def test_forms_need_the_sessions_token(api: Api, loaded_store: Store) -> None:
    """An import or export posted with another token (a forged form) does nothing: 403."""
    client, _token = signed_in(api)
    forged = check(client, "forged", updated_file([("1", "1001")]))
    assert forged.status_code == 403 and "did not come from this console" in forged.text
    exported = client.post("/console/export/download", data={"csrf": "x", "partner": "acme"})
    assert exported.status_code == 403
    assert status_of(loaded_store, "1001") == "pending"


def test_an_import_by_hand_is_applied_once(api: Api, loaded_store: Store) -> None:
    """Dry run (nothing changes), apply (the item ships, the ledger holds the file, the
    original and report are kept and download), then the same file again: the dry run says
    it was already processed and there is nothing to apply."""
    client, token = signed_in(api)
    content = updated_file([("1", "1001"), ("1", "4242")])
    dry = check(client, token, content, "mailed.csv")
    assert dry.status_code == 200 and "Dry run of" in dry.text
    assert status_of(loaded_store, "1001") == "pending"
    applied = client.post(
        "/console/import/apply", data={"csrf": token, "upload": upload_token(dry.text)}
    )
    assert applied.status_code == 200, applied.text[:800]
    assert "1 item marked shipped" in applied.text and "1 row refused" in applied.text
    assert status_of(loaded_store, "1001") == "shipped"
    file_id = re.search(r'href="/console/files/(\d+)"', applied.text).group(1)
    original = client.get(f"/console/files/{file_id}/original")
    assert original.status_code == 200 and original.content == content
    assert 'filename="mailed.csv"' in original.headers["content-disposition"]
    report = client.get(f"/console/files/{file_id}/report")
    assert report.status_code == 200 and b"4242" in report.content
    again = check(client, token, content, "mailed-again.csv")
    assert "was already processed" in again.text and "/console/import/apply" not in again.text
    replay = client.post(
        "/console/import/apply", data={"csrf": token, "upload": upload_token(dry.text)}
    )
    assert replay.status_code == 410
    with loaded_store.connect() as connection:
        count = "SELECT count(*) FROM files WHERE direction = 'import' AND state = 'applied'"
        assert connection.exec_driver_sql(count).scalar() == 1


def test_an_upload_belongs_to_its_session_and_cancel_drops_it(
    api: Api, loaded_store: Store, config_file: Path
) -> None:
    """Another session cannot apply someone's upload (410); cancel removes the kept file
    and nothing is imported."""
    client, token = signed_in(api)
    dry = check(client, token, updated_file([("1", "1001")]))
    held = upload_token(dry.text)
    other, other_token = signed_in(api)
    stolen = other.post("/console/import/apply", data={"csrf": other_token, "upload": held})
    assert stolen.status_code == 410
    uploads = config_file.parent / "state" / "console-uploads"
    assert any(path.suffix == ".upload" for path in uploads.iterdir())
    cancelled = client.post("/console/import/cancel", data={"csrf": token, "upload": held})
    assert cancelled.status_code == 303
    assert not any(path.suffix == ".upload" for path in uploads.iterdir())
    assert status_of(loaded_store, "1001") == "pending"


def test_an_upload_over_the_limit_is_refused(loaded_store: Store, config_file: Path) -> None:
    """A file over [daemon] max_file_bytes is refused (413, the limit named), without
    keeping anything."""
    keys = make_keys(loaded_store)
    service = ServeProcess(config_file, env={"FTPBRIDGE_DAEMON__MAX_FILE_BYTES": "2000"})
    api = Api(service, loaded_store, keys)
    try:
        client, token = signed_in(api)
        answer = check(client, token, updated_file([("1", "1001")] * 200))
        assert answer.status_code == 413 and "over the limit" in answer.text
        uploads = config_file.parent / "state" / "console-uploads"
        assert not uploads.exists() or not list(uploads.iterdir())
    finally:
        for opened in api.clients:
            opened.close()
        service.close()


def test_export_by_hand_downloads_and_marks(api: Api, loaded_store: Store) -> None:
    """Download answers the CSV as an attachment and marks the items acknowledged, as
    ``ftpbridge export --out`` does; the ledger names the kept copy."""
    client, token = signed_in(api)
    answer = client.post("/console/export/download", data={"csrf": token, "partner": "ac"})
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.text.count("\n") == 5  # the header and ac's 4 items
    with loaded_store.connect() as connection:
        statuses = connection.exec_driver_sql(
            "SELECT DISTINCT status FROM items WHERE partner = 'ac'"
        ).all()
        kept = connection.exec_driver_sql(
            "SELECT local_path FROM files WHERE partner = 'ac' AND direction = 'export'"
        ).scalar()
    assert [row[0] for row in statuses] == ["acknowledged"]
    assert Path(kept).read_bytes().decode() == answer.text


def test_export_upload_once_a_day_then_with_a_second_file(
    loaded_store: Store, config_file: Path, tmp_path: Path
) -> None:
    """Upload sends the file to the partner's server; a second upload the same day is
    refused (409) saying how to send a second file, which the box then does."""
    keys = make_keys(loaded_store)
    server = tmp_path / "acme-server"
    server.mkdir()
    service = ServeProcess(
        config_file,
        env={
            "FTPBRIDGE_PARTNERS__AC__TRANSPORT": "local",
            "FTPBRIDGE_PARTNERS__AC__PATH": str(server),
        },
    )
    api = Api(service, loaded_store, keys)
    try:
        client, token = signed_in(api)
        first = client.post("/console/export/upload", data={"csrf": token, "partner": "ac"})
        assert first.status_code == 200 and "exported 4 items and uploaded" in first.text
        assert len(list(server.iterdir())) == 1
        second = client.post("/console/export/upload", data={"csrf": token, "partner": "ac"})
        assert second.status_code == 409 and "Upload a second file today" in second.text
        forced = client.post(
            "/console/export/upload", data={"csrf": token, "partner": "ac", "force": "yes"}
        )
        assert forced.status_code == 200
        assert len(list(server.iterdir())) == 2
    finally:
        for opened in api.clients:
            opened.close()
        service.close()


def test_errors_under_console_are_pages_and_the_apis_stay_json(api: Api) -> None:
    """An unknown console address answers a page saying so (404, Error:/Try:); the same
    miss under /api stays the API's JSON error."""
    client, _token = signed_in(api)
    page = client.get("/console/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is no console page at this address." in page.text
    bad = client.get("/console/files?before=yesterday")
    assert bad.status_code == 400 and "a number was expected" in bad.text
    api_miss = client.get("/api/v1/no-such-path")
    assert api_miss.status_code == 404 and api_miss.json()["status"] == "error"
