"""The Orders API writes the outbox too: a real ``ftpbridge serve`` with [notify] set up
answers Topspin's ``"email": 1`` when ``email_on_update=true`` queued e-mails, and every
changed item has its webhook event, with the key's name as the source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from ftpbridge.store import Store
from ftpbridge.store.schema import outbox
from tests.notify.conftest import SECRET, UPS
from tests.web.conftest import ServeProcess, make_keys


def test_updates_write_webhook_events_and_emails_on_request(
    loaded_store: Store, config_file: Path
) -> None:
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[notify]\nwebhook_url = "http://127.0.0.1:9/hook"\nwebhook_secret = "{SECRET}"\n'
            '[notify.email]\nhost = "127.0.0.1"\nport = 9\nfrom = "shop@example.com"\n'
        )
    keys = make_keys(loaded_store)
    service = ServeProcess(config_file)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    try:
        import httpx

        with httpx.Client(base_url=service.url, auth=("acme-wms", keys["acme-wms"])) as client:
            answers = []
            for item, order, email in (("1001", "1", "true"), ("1004", "3", "false")):
                body = {"orders": [{"id": order, "items": [{"id": item, "status": "shipped",
                        "shipping_date": today, "tracking_type": "UPS",
                        "tracking_code": UPS[0]}]}], "email_on_update": email}  # fmt: skip
                answers.append(client.post("/api/v1/order/update", json=body).json())
    finally:
        service.close()
    assert [answer["response"]["email"] for answer in answers] == [1, 0]
    with loaded_store.connect() as connection:
        rows = connection.execute(
            select(outbox.c.channel, outbox.c.order_id, outbox.c.source).order_by(outbox.c.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("webhook", "1", "api:acme-wms"),
        ("email", "1", "api:acme-wms"),
        ("webhook", "3", "api:acme-wms"),
    ]
