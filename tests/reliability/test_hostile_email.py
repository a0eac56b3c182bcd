"""Hostile customers and products (tests/data/bad/hostile_customers.jsonl) in shipment
e-mails, sent through a real SMTP server: no name can add a header or a recipient, break
the subject onto a second line, put markup into the HTML part or run template code; an
address that is not one is never sent to. Each case counts in the reliability figures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.files.layouts import load_layout
from ftpbridge.notify.sender import build_sender
from ftpbridge.settings import build_settings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.outbox import Notify
from tests.notify.mailserver import MailServer, Received
from tests.reliability.conftest import Figures
from tests.servers import make_certificate

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad" / "hostile_customers.jsonl"
ALLOWED_HEADERS = {"from", "to", "subject", "date", "message-id", "auto-submitted",
                   "mime-version", "content-type", "content-transfer-encoding"}  # fmt: skip
BAD_ADDRESSES = {"a header in the address", "two addresses"}


def problems_of(mail: Received, case: dict[str, Any]) -> list[str]:
    """What is wrong with the e-mail of ``case`` (nothing, when it holds)."""
    found = []
    message = mail.message
    if mail.recipients != [case["fan"]]:
        found.append(f"envelope recipients {mail.recipients}")
    names = {name.lower() for name in message}
    if names - ALLOWED_HEADERS:
        found.append(f"extra headers {sorted(names - ALLOWED_HEADERS)}")
    if len(message.get_all("To", [])) != 1 or len(message["To"].addresses) != 1:
        found.append(f"To is {message['To']!r}")
    elif message["To"].addresses[0].addr_spec != case["fan"]:
        found.append(f"To goes to {message['To'].addresses[0].addr_spec}")
    header_block = mail.data.split(b"\r\n\r\n", 1)[0]
    if re.search(rb"^(bcc|cc|reply-to):", header_block, re.IGNORECASE | re.MULTILINE):
        found.append("a Bcc, Cc or Reply-To line in the headers")
    if "attacker" in str(message["Subject"]) or "\n" in str(message["Subject"]):
        found.append(f"subject {message['Subject']!r}")
    html = message.get_body(("html",)).get_content()
    for markup in ("<script", "<img", '<a href="javascript'):  # a tag, not escaped text
        if markup in html:
            found.append(f"markup {markup!r} in the HTML part")
    text = message.get_body(("plain",)).get_content()
    if "49" in text or "xxx" in text:
        found.append("template code in the data was run")
    return found


def test_hostile_names_never_break_an_email(store: Store, tmp_path: Path, figures: Figures) -> None:
    """Every case of the corpus ships and is e-mailed (or, for the two addresses that are
    not one, is dead without being sent); each e-mail holds (see problems_of)."""
    cases = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    settings = build_settings({
        "partners": {"acme": {"default": True, "notify_customers": True}},
        "notify": {"email": {"host": "127.0.0.1", "port": 1, "from": "shop@example.com",
                             "starttls": False}},
    })  # fmt: skip
    load_orders(store, CORPUS, list(settings.partners.values()))
    path = tmp_path / "hostile_updated.csv"
    rows = "".join(
        f"{case['id']},{case['items'][0]['id']},TRUE,2026-11-22,UPS,1Z5R89390357567127\r\n"
        for case in cases
    )
    path.write_text("order_id,item_id,shipped,shipped_date,carrier,tracking_number\r\n" + rows,
                    encoding="utf-8")  # fmt: skip
    result = import_file(store, settings.partners["acme"], load_layout("default"), path,
                         notify=Notify(email=True))  # fmt: skip
    assert result.applied == len(cases), result.message
    server = MailServer("plain", make_certificate(tmp_path / "certs").cert_file)
    try:
        email = settings.notify.email.model_copy(update={"port": server.port})
        notify = settings.notify.model_copy(update={"email": email})
        report = build_sender(store, notify, clock=utcnow).send_once()
        received = {mail.recipients[0]: mail for mail in server.received}
    finally:
        server.stop()
    assert report.dead == len(BAD_ADDRESSES) and report.retrying == 0, report
    failures = {}
    for case in cases:
        if case["_case"] in BAD_ADDRESSES:
            found = [f"sent to {case['fan']!r}"] if case["fan"] in received else []
        elif case["fan"] not in received:
            found = ["no e-mail"]
        else:
            found = problems_of(received[case["fan"]], case)
        figures.bad_input(f"e-mail: {case['_case']}", unhandled=1 if found else 0)
        if found:
            failures[case["_case"]] = found
    assert not any("attacker" in recipient for recipient in received)
    assert failures == {}
    # The names arrive whole, as text: escaped in HTML, one line in the display name.
    mallory = received["mallory@example.com"].message
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mallory.get_body(("html",)).get_content()
    walter = received["walter@example.com"].message.get_body(("plain",)).get_content()
    assert "{{ 7 * 7 }}" in walter
    eve = received["eve@example.com"].message["To"].addresses[0]
    assert eve.display_name == 'Eve" Bcc: evil@attacker.example Smith Subject: you won'
