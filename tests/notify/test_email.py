"""E-mails to customers through a real SMTP server on 127.0.0.1 (aiosmtpd: STARTTLS with a
certificate the tests' CA signed, a login, recipients it refuses): one per order and file,
plain text and HTML from the templates, refused recipients dead at once, busy ones tried
again, the shop's own templates, and the ways a server can fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from ftpbridge.errors import ConfigError
from ftpbridge.notify.sender import build_sender
from ftpbridge.store import Store
from ftpbridge.store.outbox import Event
from ftpbridge.store.schema import outbox
from tests.notify.conftest import EMAIL, UPS, Clock, email_settings, ship
from tests.notify.mailserver import MailServer


def emails(store: Store) -> list[Event]:
    with store.connect() as connection:
        rows = connection.execute(
            select(outbox).where(outbox.c.channel == "email").order_by(outbox.c.id)
        ).mappings()
        return [Event(**row) for row in rows]


def set_email(store: Store, order: str, address: str) -> None:
    with store.begin() as connection:
        connection.exec_driver_sql(
            f"UPDATE orders SET email = '{address}' WHERE id = '{order}'"  # noqa: S608 - test
        )


def test_one_email_per_order_with_text_html_and_tracking_links(
    loaded_store: Store, mail_server: MailServer, certificates, clock: Clock, tmp_path: Path
) -> None:
    """A file shipping two items of order 1 and one of order 3: two e-mails over STARTTLS
    with a login, each to its one customer, from the shop, with Reply-To, a subject, a
    Message-ID made of the event id, and a plain-text and an HTML part listing the
    order's items with carrier, number and tracking link."""
    ship(loaded_store, tmp_path, [("1", "1001"), ("1", "1002"), ("3", "1004")], notify=EMAIL)
    settings = email_settings(mail_server, certificates)
    sender = build_sender(loaded_store, settings.notify, clock=clock)
    report = sender.send_once()
    assert (report.delivered, report.retrying, report.dead) == (2, 0, 0), report
    assert [(mail.sender, mail.recipients) for mail in mail_server.received] == [
        ("shop@example.com", ["grace@example.com"]),
        ("shop@example.com", ["margaret@example.com"]),
    ]
    message = mail_server.received[0].message
    first = emails(loaded_store)[0]
    assert message["From"] == "Example Shop <shop@example.com>"
    assert message["To"] == "Grace Hopper <grace@example.com>"
    assert message["Reply-To"] == "help@example.com"
    assert message["Subject"] == "Your order 1 is on its way"
    assert message["Message-ID"] == f"<{first.event_id}@example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    link = f"https://www.ups.com/track?tracknum={UPS[0]}"
    assert "Hello Grace Hopper," in text
    assert f"* 1 x Hoodie\n  Shipped 2026-11-22 with UPS, tracking number {UPS[0]}" in text
    assert "* 2 x Vinyl LP" in text and f"Track it: {link}" in text
    assert f'<a href="{link}">{UPS[0]}</a>' in html
    assert "<td>2 &times; Vinyl LP</td>" in html
    assert [event.state for event in emails(loaded_store)] == ["delivered", "delivered"]


def test_a_refused_recipient_is_dead_at_once_and_a_busy_one_is_tried_again(
    loaded_store: Store, mail_server: MailServer, certificates, clock: Clock, tmp_path: Path
) -> None:
    """550 for order 1's address: dead after one attempt, the server's words kept; 451 for
    order 3's: tried again later; order 4's goes through in the same connection."""
    set_email(loaded_store, "1", "nobody@example.com")
    set_email(loaded_store, "3", "busy@example.com")
    ship(loaded_store, tmp_path, [("1", "1001"), ("3", "1004"), ("4", "1006")], notify=EMAIL)
    sender = build_sender(loaded_store, email_settings(mail_server, certificates).notify,
                          clock=clock)  # fmt: skip
    report = sender.send_once()
    assert (report.delivered, report.retrying, report.dead) == (1, 1, 1)
    refused, busy, fine = emails(loaded_store)
    assert (refused.state, refused.attempts, refused.last_status) == ("dead", 1, 550)
    assert "no such mailbox" in (refused.last_error or "")
    assert "refused nobody@example.com" in (refused.last_error or "")
    assert (busy.state, busy.last_status) == ("pending", 451)
    assert busy.next_attempt_at > clock()
    assert fine.state == "delivered"
    assert [mail.recipients for mail in mail_server.received] == [["ken@example.com"]]


@pytest.mark.parametrize(
    "address",
    ["not-an-address", "victim@example.com, evil@attacker.example",
     "victim@example.com\r\nBcc: evil@attacker.example", "<victim@example.com>"],
)  # fmt: skip
def test_an_address_that_is_not_one_is_dead_without_sending(
    address: str, loaded_store: Store, mail_server: MailServer, certificates, clock: Clock,
    tmp_path: Path,
) -> None:  # fmt: skip
    """An order whose e-mail is not one plain mailbox is never handed to the server."""
    with loaded_store.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE orders SET email = ? WHERE id = '1'"
            if loaded_store.dialect == "sqlite"
            else "UPDATE orders SET email = %s WHERE id = '1'",
            (address,),
        )
    ship(loaded_store, tmp_path, [("1", "1001")], notify=EMAIL)
    sender = build_sender(loaded_store, email_settings(mail_server, certificates).notify,
                          clock=clock)  # fmt: skip
    assert sender.send_once().dead == 1
    [event] = emails(loaded_store)
    assert event.state == "dead" and "is not one e-mail address" in (event.last_error or "")
    assert mail_server.received == []


def test_the_shops_templates_replace_the_built_in_ones(
    loaded_store: Store, mail_server: MailServer, certificates, clock: Clock, tmp_path: Path
) -> None:
    """templates_dir with a subject and a text template of the shop's: those are used, the
    built-in HTML part stays; names in the HTML are escaped, in the text they are not."""
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "shipment.subject.txt").write_text(
        "Order #{{ order_id }}: {{ items|length }} parcel(s)"
    )
    (folder / "shipment.txt").write_text(
        "{% for item in items %}{{ item.product_name }} via {{ item.carrier }}"
        " ({{ item.carrier_code }})\n{% endfor %}"
    )
    with loaded_store.begin() as connection:
        connection.exec_driver_sql("UPDATE items SET product_name = 'T & <Tee>' WHERE id = '1001'")
    ship(loaded_store, tmp_path, [("1", "1001")], notify=EMAIL)
    settings = email_settings(mail_server, certificates, templates_dir=str(folder))
    build_sender(loaded_store, settings.notify, clock=clock).send_once()
    message = mail_server.received[0].message
    assert message["Subject"] == "Order #1: 1 parcel(s)"
    assert message.get_body(("plain",)).get_content() == "T & <Tee> via UPS (UPS)\n"
    assert "T &amp; &lt;Tee&gt;" in message.get_body(("html",)).get_content()


def test_a_broken_template_is_a_config_error_naming_it(tmp_path: Path, mail_server, certificates,
                                                        loaded_store: Store) -> None:  # fmt: skip
    """A syntax error or an unknown name in the shop's template stops the sender at once,
    naming the file and line (not at the first e-mail)."""
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "shipment.txt").write_text("Hello\n{% for item in items %}\n{{ item.nope }}")
    settings = email_settings(mail_server, certificates, templates_dir=str(folder))
    with pytest.raises(ConfigError) as raised:
        build_sender(loaded_store, settings.notify)
    assert f"{folder / 'shipment.txt'}, line 3" in raised.value.message
    (folder / "shipment.txt").write_text("Hello {{ customer }}")
    with pytest.raises(ConfigError, match="'customer' is undefined"):
        build_sender(loaded_store, settings.notify)


# aiosmtpd warns of a login without STARTTLS; with tls = true the whole connection is TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["tls", "plain"])
def test_smtps_and_plain_servers(
    mode: str, loaded_store: Store, certificates, clock: Clock, tmp_path: Path
) -> None:
    """tls = true speaks TLS from the first byte (port 465 style); starttls = false with no
    login talks plain SMTP (a relay on the same machine)."""
    server = MailServer(mode, certificates.cert_file)
    try:
        ship(loaded_store, tmp_path, [("1", "1001")], notify=EMAIL)
        extra = {"tls": True} if mode == "tls" else {"starttls": False, "username": ""}
        settings = email_settings(server, certificates, **extra)
        assert build_sender(loaded_store, settings.notify, clock=clock).send_once().delivered == 1
        assert [mail.recipients for mail in server.received] == [["grace@example.com"]]
    finally:
        server.stop()


def test_server_failures_are_tried_again_with_a_clear_reason(
    loaded_store: Store, mail_server: MailServer, certificates, clock: Clock, tmp_path: Path
) -> None:
    """A wrong password, an untrusted certificate and a server that is down: the e-mail
    waits for another attempt, and the reason says what to check; the password is never
    in it."""
    ship(loaded_store, tmp_path, [("1", "1001")], notify=EMAIL)
    cases = [
        ({"password": "wrong-password-123"}, "refused the user name or password"),
        ({"ca_file": None}, "certificate does not verify"),
        ({"port": 9}, "cannot send through 127.0.0.1:9"),
    ]
    for extra, reason in cases:
        settings = email_settings(mail_server, certificates, **extra)
        report = build_sender(loaded_store, settings.notify, clock=clock).send_once()
        assert report.retrying == 1, report
        assert reason in report.errors[0], report.errors
        assert "wrong-password-123" not in report.errors[0]
        clock.advance(hours=2)
    [event] = emails(loaded_store)
    assert (event.state, event.attempts) == ("pending", 3)
    assert mail_server.received == []


def test_an_api_update_with_email_on_update_mails_the_customer(
    loaded_store: Store, mail_server: MailServer, certificates, clock: Clock
) -> None:
    """Topspin's email_on_update=true: the update's orders get their e-mail."""
    from ftpbridge.files.updates import ItemUpdate, apply_updates
    from tests.notify.conftest import NOW

    settings = email_settings(mail_server, certificates)
    settings = settings.model_copy(update={"partners": {
        name: partner.model_copy(update={"notify_customers": False})
        for name, partner in settings.partners.items()}})  # fmt: skip
    outcome = apply_updates(
        loaded_store, settings, [ItemUpdate("9", "1014", True, "2026-11-22", "UPS", UPS[1])],
        scope=None, source="api:wms", email_requested=True, now=NOW, timeout=30,
    )  # fmt: skip
    assert outcome.emails == 1
    assert build_sender(loaded_store, settings.notify, clock=clock).send_once().delivered == 1
    [mail] = mail_server.received
    assert mail.recipients == ["radia@example.com"]
    assert json.loads(emails(loaded_store)[0].payload or "{}")["items"][0]["item_id"] == "1014"


def test_international_addresses(
    loaded_store: Store, mail_server: MailServer, certificates, clock: Clock, tmp_path: Path
) -> None:
    """grace@exämple.com (an international domain) goes out with SMTPUTF8, the address
    intact; zoë@example.com (an international mailbox) cannot be addressed: dead without
    being sent, saying why."""
    with loaded_store.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE orders SET email = 'grace@ex\u00e4mple.com' WHERE id = '1'"
        )
        connection.exec_driver_sql(
            "UPDATE orders SET email = 'zo\u00eb@example.com' WHERE id = '3'"
        )
    ship(loaded_store, tmp_path, [("1", "1001"), ("3", "1004")], notify=EMAIL)
    sender = build_sender(loaded_store, email_settings(mail_server, certificates).notify,
                          clock=clock)  # fmt: skip
    report = sender.send_once()
    assert (report.delivered, report.dead) == (1, 1)
    [mail] = mail_server.received
    assert mail.recipients == ["grace@ex\u00e4mple.com"]
    assert "To: Grace Hopper <grace@ex\u00e4mple.com>\r\n".encode() in mail.data  # UTF-8
    mailbox = emails(loaded_store)[1]
    assert "an international mailbox" in (mailbox.last_error or ""), mailbox.last_error
