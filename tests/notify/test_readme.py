"""The README's notifications section is true: its receiver check, run as written, accepts
ftpbridge's real requests and refuses tampered, foreign or stale ones; its TOML is valid
config; its example body has exactly the fields ftpbridge sends."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from ftpbridge.notify.webhook import event_json, sign
from ftpbridge.settings import build_settings
from ftpbridge.store import Store
from ftpbridge.store.outbox import WEBHOOK_TYPES, change_type_sql, pending
from tests.notify.conftest import SECRET, Clock, Receiver, sender_for, ship

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Notifications: the shop's webhook and customer e-mails")
    return text[start : text.index("\n## ", start + 10)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.DOTALL)


def readme_verify() -> Any:
    [code] = [block for block in blocks("python") if "def verify(" in block]
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    return namespace["verify"]


def test_the_readme_receiver_check_accepts_real_requests_and_nothing_else(
    loaded_store: Store, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    verify = readme_verify()
    ship(loaded_store, tmp_path, [("1", "1001"), ("3", "1004")])
    sender_for(loaded_store, receiver.url, clock, batch_size=1).send_once()
    requests = receiver.requests()
    assert len(requests) == 2
    secret = SECRET.encode()
    for request in requests:
        body, header = request["body"].encode(), request["signature"]
        assert verify(body, header, secret)
        assert not verify(body.replace(b'"1Z', b'"2Z'), header, secret)  # tampered
        assert not verify(body, header, b"another-secret-0123456789")
        assert not verify(body, "nonsense", secret)
    stale = int(time.time()) - 600
    body = requests[0]["body"].encode()
    assert not verify(body, sign(secret, stale, body), secret)  # ten minutes old: a replay
    assert verify(body, sign(secret, int(time.time()), body), secret)


def test_the_readme_toml_is_valid_config() -> None:
    import tomllib

    toml_blocks = blocks("toml")
    assert len(toml_blocks) == 2
    for block in toml_blocks:
        data = tomllib.loads(block)
        if "notify" in data and "email" in data["notify"]:
            data["partners"] = {"acme": {"notify_customers": True}}
        build_settings(data)


def test_the_readme_body_has_exactly_the_fields_sent(loaded_store: Store, tmp_path: Path) -> None:
    [example] = blocks("json")
    documented = json.loads(example)["events"][0]
    ship(loaded_store, tmp_path, [("11", "1016")])
    with loaded_store.connect() as connection:
        [event] = pending(connection)
    sent = event_json(event)
    assert list(documented) == list(sent)
    assert documented["type"] == sent["type"] == "item.shipped"


def test_the_readme_names_every_event_type() -> None:
    """Each type a webhook event can have is documented, and no other: a type added to the
    store's SQL without the README fails here."""
    documented = set(re.findall(r"`(item\.[a-z]+)`", section()))
    assert documented == set(WEBHOOK_TYPES)
    written = set(re.findall(r"'(item\.[a-z]+)'", change_type_sql("old", "new")))
    assert written == set(WEBHOOK_TYPES)
