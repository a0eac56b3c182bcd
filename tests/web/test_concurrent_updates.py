"""An API update and a file import of the same item at the same time, on both stores:
they are serialised, both are in the audit trail (the second's "before" is the first's
"after"), and the item ends as the later one left it: nothing lost."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ftpbridge.files.importing import import_file
from ftpbridge.files.layouts import load_layout
from ftpbridge.settings import load_settings
from ftpbridge.store.schema import item_changes, items
from tests.servers import wait_for
from tests.web.conftest import UPS, Api

FEDEX = "986578788855"


def test_api_and_file_import_of_one_item_are_serialised_and_both_audited(
    api: Api, config_file: Path, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    settings = load_settings(config_file)
    path = tmp_path / "orders_updated_1.csv"
    path.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\n"
        f"1,1001,TRUE,{today},UPS,{UPS}\n",
        encoding="utf-8",
    )
    results: dict[str, Any] = {}
    start = threading.Barrier(2)

    def by_file() -> None:
        start.wait()
        results["file"] = import_file(
            api.store, settings.partners["acme"], load_layout("default"), path
        )

    def by_api() -> None:
        start.wait()
        results["api"] = api.client("acme-wms").post(
            "/api/v1/order/update",
            json={
                "orders": [
                    {
                        "id": "1",
                        "items": [
                            {
                                "id": "1001",
                                "status": "shipped",
                                "shipping_date": today,
                                "tracking_type": "FEDEX",
                                "tracking_code": FEDEX,
                            }
                        ],
                    }
                ]
            },
        )

    threads = [threading.Thread(target=by_file), threading.Thread(target=by_api)]
    if api.store.dialect == "postgresql":
        # Hold the item locked until both are queued behind the lock: then they truly race.
        with api.store.begin() as blocker:
            blocker.exec_driver_sql("SELECT id FROM items WHERE id = '1001' FOR UPDATE")
            for thread in threads:
                thread.start()
            wait_for(lambda: _waiting_on_locks(api) >= 2, "both writers to wait for the item")
    else:  # SQLite: each writing transaction takes the one write lock first
        for thread in threads:
            thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results["api"].status_code == 200, results["api"].text
    assert results["file"].applied == 1, results["file"].message
    with api.store.connect() as connection:
        changes = (
            connection.execute(
                select(item_changes)
                .where(item_changes.c.item_id == "1001")
                .order_by(item_changes.c.id)
            )
            .mappings()
            .all()
        )
        final = connection.execute(
            select(items.c.status, items.c.carrier, items.c.tracking_number).where(
                items.c.id == "1001"
            )
        ).one()
    assert len(changes) == 2
    first, second = changes
    assert {first["source"] is None, second["source"] is None} == {True, False}  # file, API
    assert first["old_status"] == "pending"
    assert (second["old_carrier"], second["old_tracking_number"]) == (
        first["new_carrier"],
        first["new_tracking_number"],
    )
    assert tuple(final) == ("shipped", second["new_carrier"], second["new_tracking_number"])
    assert {first["new_carrier"], second["new_carrier"]} == {"UPS", "FEDEX"}


def _waiting_on_locks(api: Api) -> int:
    with api.store.connect() as connection:
        return int(
            connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).scalar()
        )
