"""Senders side by side, as real processes: two ``ftpbridge notify send`` at once (two
replicas on PostgreSQL; the service and a send by hand on SQLite) never deliver one event
at the same time, and together deliver each exactly once; and ``ftpbridge run`` takes a
fulfiller's file from its inbox and the shipments reach the receiver."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ftpbridge.files.intake import load_orders
from ftpbridge.settings import build_settings
from ftpbridge.store import Store
from ftpbridge.store.schema import outbox
from tests.notify.conftest import SECRET, Receiver, ship
from tests.notify.test_cli_notify import configure
from tests.runs import FTPBRIDGE, FtpbridgeRun
from tests.servers import wait_for

ORDERS = 120


def many_orders(store: Store, folder: Path, count: int) -> list[tuple[str, str]]:
    """``count`` one-item orders (ids 5001...) routed to acme; their (order, item) pairs."""
    path = folder / "many.jsonl"
    lines = []
    for number in range(count):
        order = {
            "id": 5001 + number,
            "created_at": "2026-11-20T10:00:00Z",
            "fan": f"fan{number}@example.com",
            "shipping_address": {"firstname": "Fan", "lastname": str(number)},
            "items": [{"id": 9001 + number, "sku_id": 1, "product_name": "Tee",
                       "factory_sku": "T-1", "quantity": 1, "status": "pending"}],
        }  # fmt: skip
        lines.append(json.dumps(order))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = build_settings({"partners": {"acme": {"default": True}}})
    load_orders(store, path, list(settings.partners.values()))
    return [(str(5001 + number), str(9001 + number)) for number in range(count)]


def overlapping(requests: list[dict[str, Any]]) -> bool:
    """Whether two requests were ever in the receiver at the same time."""
    spans = sorted((request["arrived"], request["answered"]) for request in requests)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


def test_two_senders_at_once_deliver_each_event_once_never_together(
    store: Store, config_file: Path, receiver: Receiver, tmp_path: Path
) -> None:
    """120 events, batches of 5, a receiver taking 0.2 s per request: two senders started
    together both send (their requests overlap in time), yet every event arrives exactly
    once (so never in two requests at once), and all are marked delivered."""
    from ftpbridge.store.engine import utcnow

    pairs = many_orders(store, tmp_path, ORDERS)
    ship(store, tmp_path, pairs, now=utcnow())
    configure(config_file, receiver.url)
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write("batch_size = 5\n")
    receiver.plan([], delay=0.2)
    command = [FTPBRIDGE, "--config", str(config_file), "notify", "send"]
    senders = [
        subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [sender.communicate(timeout=300) for sender in senders]
    assert [sender.returncode for sender in senders] == [0, 0], outputs
    delivered = receiver.delivered_ids()
    assert len(delivered) == ORDERS == len(set(delivered))
    assert sum(int(out.split()[1]) for out, _ in outputs) == ORDERS  # "Delivered N events."
    assert all(int(out.split()[1]) > 0 for out, _ in outputs), outputs  # both took part
    assert overlapping(receiver.requests())
    with store.connect() as connection:
        states = connection.execute(
            select(outbox.c.state, func.count()).group_by(outbox.c.state)
        ).all()
    assert [tuple(row) for row in states] == [("delivered", ORDERS)]


def test_the_service_sends_what_it_imported(
    store: Store, config_file: Path, receiver: Receiver, tmp_path: Path
) -> None:
    """``ftpbridge run`` with a local-folder partner and [notify]: an updated file dropped
    in the folder is imported by the poll, and its shipments reach the receiver, signed,
    with the file's name as their source, without anyone running notify send."""
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    text = config_file.read_text(encoding="utf-8").replace(
        "[partners.acme]\ndefault = true\n",
        f'[partners.acme]\ndefault = true\ntransport = "local"\npath = "{exchange}"\n'
        'settle_seconds = 0\npoll_interval = 1\nexport_cron = "0 0 1 1 *"\n',
    )
    config_file.write_text(text + f'\n[daemon]\nstate_dir = "{tmp_path / "state"}"\n',
                           encoding="utf-8")  # fmt: skip
    configure(config_file, receiver.url)
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write("interval = 0.5\n")
    settings = build_settings({"partners": {"acme": {"default": True}, "ac": {"skus": ["AC-*"]}}})
    load_orders(store, Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl",
                list(settings.partners.values()))  # fmt: skip
    from ftpbridge.store.engine import utcnow

    today = utcnow().date().isoformat()
    updated = exchange / "orders_updated_1.csv"
    temporary = exchange / ".orders_updated_1.csv.tmp"
    temporary.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\r\n"
        f"1,1001,TRUE,{today},UPS,1Z5R89390357567127\r\n"
        f"3,1004,TRUE,{today},UPS,1Z879E930346834440\r\n",
        encoding="utf-8",
    )
    temporary.rename(updated)
    daemon = FtpbridgeRun(tmp_path)
    try:
        wait_for(lambda: len(receiver.delivered_ids()) == 2, "the shipments at the receiver", 60)
        assert daemon.stop() == 0
    finally:
        daemon.close()
    [request] = receiver.answered()
    events = json.loads(request["body"])["events"]
    assert [(event["item_id"], event["source"]) for event in events] == [
        ("1001", "orders_updated_1.csv"),
        ("1004", "orders_updated_1.csv"),
    ]
    assert request["signature"].startswith("t=")
    assert SECRET not in daemon.log()
    with store.connect() as connection:
        assert set(connection.execute(select(outbox.c.state)).scalars()) == {"delivered"}
