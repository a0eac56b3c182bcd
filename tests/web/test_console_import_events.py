"""An import applied by hand in the console tells the shop, like the CLI's and the poll's:
its shipments are written into the outbox in the import's transaction and ``notify send``
delivers them to a real webhook receiver (both store backends)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ftpbridge.store import Store
from ftpbridge.store.schema import outbox
from tests.notify.conftest import SECRET, Receiver
from tests.web.conftest import Api, ServeProcess, make_keys
from tests.web.test_console_pages import check, signed_in, updated_file, upload_token


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    running = Receiver(tmp_path / "receiver")
    try:
        yield running
    finally:
        running.stop()


def test_a_console_import_writes_and_delivers_its_events(
    loaded_store: Store, config_file: Path, receiver: Receiver, run_cli: Callable
) -> None:
    """Dry run, then apply in the console with ``[notify] webhook_url`` set: one
    ``item.shipped`` outbox row for the shipped item (named by the uploaded file), none for
    the refused row; ``ftpbridge notify send`` delivers it to the receiver."""
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[notify]\nwebhook_url = "{receiver.url}"\nwebhook_secret = "{SECRET}"\n')
    keys = make_keys(loaded_store)
    api = Api(ServeProcess(config_file), loaded_store, keys)
    try:
        client, token = signed_in(api)
        dry = check(client, token, updated_file([("1", "1001"), ("1", "4242")]), "mailed.csv")
        assert dry.status_code == 200, dry.text[:800]
        with loaded_store.connect() as connection:  # a dry run writes no event
            assert connection.execute(select(outbox.c.id)).all() == []
        applied = client.post(
            "/console/import/apply", data={"csrf": token, "upload": upload_token(dry.text)}
        )
        assert applied.status_code == 200, applied.text[:800]
        assert "1 item marked shipped" in applied.text
    finally:
        for opened in api.clients:
            opened.close()
        api.service.close()
    with loaded_store.connect() as connection:
        rows = connection.execute(
            select(outbox.c.channel, outbox.c.type, outbox.c.item_id, outbox.c.source)
        ).all()
    assert [tuple(row) for row in rows] == [("webhook", "item.shipped", "1001", "mailed.csv")]
    sent = run_cli("notify", "send")
    assert (sent.exit_code, sent.stdout.strip()) == (0, "Delivered 1 event."), sent.output
    [request] = receiver.answered(200)
    [event] = json.loads(request["body"])["events"]
    assert (event["type"], event["item_id"], event["source"]) == (
        "item.shipped",
        "1001",
        "mailed.csv",
    )
