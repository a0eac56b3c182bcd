"""Whole-number parameters against a real ``ftpbridge serve``: only the digits 0-9 are a
number. "²" passes ``str.isdigit`` and ``int()`` refuses it, which was a 500; a number too
long for the maximum names the maximum instead of saying it is not a number; each refusal
names the parameter and says what to do, in words that fit that parameter."""

from __future__ import annotations

import json

import httpx

from tests.web.conftest import Api


def refused(response: httpx.Response) -> tuple[str, str]:
    """The reason and hint of a 400 (anything else fails the test)."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error"
    return body["reason"], body.get("hint", "")


def test_digits_of_other_scripts_are_refused_naming_the_parameter(api: Api) -> None:
    """Superscript two, Arabic-Indic three and a full-width one, as page on View SKUs, in
    search on View Orders and as quantity on sku/add: 400 naming the parameter, with a
    hint saying to use the digits 0-9; the stock is unchanged."""
    client = api.client()
    for digit in ("²", "٣", "１"):
        reason, hint = refused(client.post("/api/v1/sku", data={"page": digit}))
        assert reason == f"page must be a whole number, not {digit!r}"
        assert "digits 0-9" in hint
        search = json.dumps({"page": digit}, ensure_ascii=False)
        reason, hint = refused(client.post("/api/v1/order", data={"search": search}))
        assert reason == f"page must be a whole number, not {digit!r}"
        reason, hint = refused(client.post("/api/v1/sku/add", data={"id": "26", "quantity": digit}))
        assert reason == f"quantity must be a whole number, not {digit!r}"
        assert "send quantity in the digits 0-9, from 1 to 1,000,000,000" in hint
    assert refused(client.get("/api/v1/sku", params={"page_size": "²"}))[0].startswith(
        "page_size must be a whole number"
    )
    assert view_stock(api, "26") == 0


def test_a_long_number_is_over_the_maximum_with_a_hint_that_fits(api: Api) -> None:
    """12 digits and 5,000 digits (more than Python's int() reads) are over the maximum,
    which the reason names; a page size says to page through the rest, a page where the
    pages end, a quantity to check it. Leading zeros are still the number they spell."""
    client = api.client()
    reason, hint = refused(client.post("/api/v1/sku", data={"page_size": "100000000000"}))
    assert reason == "page_size 100000000000 is over the maximum of 1,000 ([api] max_page_size)"
    assert hint.startswith("ask for at most 1,000 and page through the rest")
    reason, hint = refused(client.post("/api/v1/sku", data={"page": "9" * 5000}))
    assert reason.startswith("page '99999") and reason.endswith("is over the maximum of 10,000,000")
    assert len(reason) < 120
    assert "total_pages" in hint and "page through" not in hint
    reason, hint = refused(
        client.post("/api/v1/sku/add", data={"id": "26", "quantity": "123456789012"})
    )
    assert reason == "quantity 123456789012 is over the maximum of 1,000,000,000"
    assert hint == "a SKU holds at most 1,000,000,000 units: check quantity"
    search = json.dumps({"page_size": "000000000000002"})
    body = client.post("/api/v1/order", data={"search": search}).json()
    assert body["page_size"] == 2, body
    assert view_stock(api, "26") == 0


def test_a_json_number_too_long_to_read_is_a_400(api: Api) -> None:
    """A JSON body holding a 5,000-digit number (json.loads raises a plain ValueError for
    it, not a JSONDecodeError): 400 saying so, not a 500."""
    response = api.client().post(
        "/api/v1/sku",
        content='{"page": ' + "1" * 5000 + "}",
        headers={"Content-Type": "application/json"},
    )
    reason, hint = refused(response)
    assert reason == "the request body holds a number too long to read"
    assert hint == "send numbers of at most 20 digits"


def view_stock(api: Api, sku_id: str) -> int:
    response = api.client().post("/api/v1/sku", data={"page_size": "1000"})
    assert response.status_code == 200, response.text
    [sku] = [sku for sku in response.json()["response"]["skus"] if sku["id"] == sku_id]
    return int(sku["in_stock_quantity"])
