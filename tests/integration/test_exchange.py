"""The exchange cycles (export + upload, poll, check) against every real transport."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ftpbridge.errors import AlreadyDoneError
from ftpbridge.exchange.check import run_check
from ftpbridge.exchange.export import export_and_upload
from ftpbridge.exchange.poll import poll_once
from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.settings import Settings, build_settings
from ftpbridge.store import Store, open_store
from ftpbridge.store.items import list_items
from tests.servers import TransportCase

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
UPS = "1Z5R89390357567127"


def partner_table(case: TransportCase, **extra: Any) -> dict[str, Any]:
    params = case.params
    table: dict[str, Any] = {
        "default": True,
        "transport": case.kind,
        "outbox": case.directory + "/out",
        "inbox": case.directory + "/in",
        "settle_seconds": 0,
        "timeout": 10,
    }
    if case.kind == "local":
        table["path"] = str(params.path)
    else:
        table.update(host=params.host, port=params.port, username=params.username)
        table["password"] = params.password
    if params.known_hosts:
        table["known_hosts"] = str(params.known_hosts)
    if params.ca_file:
        table["ca_file"] = str(params.ca_file)
    table.update(extra)
    return table


def make_settings(tmp_path: Path, case: TransportCase, *, store_url: str, **extra: Any) -> Settings:
    return build_settings(
        {
            "store": {"url": store_url},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "partners": {"acme": partner_table(case, **extra)},
        },
        config_path=tmp_path / "config.toml",
    )


@pytest.fixture
def exchange(
    tmp_path: Path, transport_case: TransportCase, store_url: str
) -> tuple[Settings, Store, TransportCase]:
    """Settings for one partner on the transport under test, a store with the sample orders
    (SQLite, then PostgreSQL), and the partner's in/out folders created on the server."""
    for folder in ("in", "out"):
        (transport_case.disk / folder).mkdir()
        transport_case.give(transport_case.disk / folder)
    settings = make_settings(tmp_path, transport_case, store_url=store_url)
    store = open_store(settings.store_url)
    load_orders(store, EXAMPLES, list(settings.partners.values()))
    return settings, store, transport_case


def fulfil(export_file: Path, target: Path, case: TransportCase, **changes: Any) -> None:
    """Write the exported file back as a fulfiller would: every row shipped by UPS today."""
    frame = pd.read_csv(export_file, dtype=str, keep_default_na=False)
    frame["shipped"] = "TRUE"
    frame["shipped_date"] = dt.datetime.now(dt.UTC).date().isoformat()
    frame["carrier"] = "UPS"
    frame["tracking_number"] = UPS
    for column, value in changes.items():
        frame[column] = value
    frame.to_csv(target, index=False)
    case.give(target)


def shipped_count(store: Store) -> int:
    with store.connect() as connection:
        return len(list_items(connection, partner="acme", status_filter="shipped"))


def test_export_upload_appears_complete_once_a_day(exchange: Any) -> None:
    """export --upload puts the file in the outbox under its final name (no .part left),
    refuses a second upload the same day naming --force, and --force never overwrites."""
    settings, store, case = exchange
    outcome = export_and_upload(store, settings, settings.partners["acme"])
    assert outcome.export is not None and outcome.export.rows == 17
    out = case.disk / "out"
    names = sorted(path.name for path in out.iterdir())
    assert names == [outcome.export.name]
    assert (out / outcome.export.name).read_bytes() == outcome.export.path.read_bytes()

    with pytest.raises(AlreadyDoneError) as refused:
        export_and_upload(store, settings, settings.partners["acme"])
    assert "--force" in (refused.value.hint or "")

    forced = export_and_upload(store, settings, settings.partners["acme"], force=True)
    assert forced.export is not None
    assert forced.export.name != outcome.export.name
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [outcome.export.name, forced.export.name]
    )


def test_poll_takes_settled_file_archives_it_and_uploads_its_report(
    exchange: Any, tmp_path: Path
) -> None:
    """A file is taken only once unchanged for settle_seconds (polls at 0 s and 0.9 s
    leave it, the poll at 1 s takes it: the clock is passed in, nobody waits); it is
    applied, moved to archive/ with NAME.report.csv next to it, and kept in the local
    archive."""
    settings, store, case = exchange
    settings = make_settings(tmp_path, case, store_url=settings.store_url, settle_seconds=1)
    partner = settings.partners["acme"]
    export = export_and_upload(store, settings, partner).export
    assert export is not None
    name = "Shop-orders-csv-updated_5.1.2011.csv"
    fulfil(export.path, case.disk / "in" / name, case)

    start = dt.datetime.now(dt.UTC)
    for seconds in (0, 0.9):
        early = poll_once(store, settings, partner, now=start + dt.timedelta(seconds=seconds))
        assert early.imports == []
        assert (case.disk / "in" / name).exists()
    second = poll_once(store, settings, partner, now=start + dt.timedelta(seconds=1))
    assert [result.applied for result in second.imports] == [17]
    assert second.exit_code == 0
    assert shipped_count(store) == 17
    archive = case.disk / "in" / "archive"
    assert sorted(path.name for path in archive.iterdir()) == [name, name + ".report.csv"]
    report = pd.read_csv(archive / (name + ".report.csv"), dtype=str)
    assert set(report["outcome"]) == {"applied"}
    assert not (case.disk / "in" / name).exists()
    local = list((settings.state_dir / "archive" / "acme").iterdir())
    assert sorted(path.name.split("_", 1)[1] for path in local) == [name, name + ".report.csv"]


def test_the_ledger_names_the_local_copy_and_its_report(exchange: Any) -> None:
    """A polled file's ledger entry names its copy in the local archive (local_path), with
    its report beside it as NAME.report.csv: what the console offers for download."""
    settings, store, case = exchange
    partner = settings.partners["acme"]
    export = export_and_upload(store, settings, partner).export
    assert export is not None
    fulfil(export.path, case.disk / "in" / "orders_updated_kept.csv", case)
    assert [r.status for r in poll_once(store, settings, partner).imports] == ["applied"]
    with store.connect() as connection:
        local = connection.exec_driver_sql(
            "SELECT local_path FROM files WHERE direction = 'import'"
        ).scalar()
    kept = Path(local)
    assert kept.parent == settings.state_dir / "archive" / "acme"
    assert kept.name.endswith("_orders_updated_kept.csv") and kept.is_file()
    assert kept.with_name(kept.name + ".report.csv").is_file()


def test_same_file_under_two_names_is_applied_once(exchange: Any) -> None:
    """The same updated file dropped twice under two names: applied once, both archived."""
    settings, store, case = exchange
    partner = settings.partners["acme"]
    export = export_and_upload(store, settings, partner).export
    assert export is not None
    fulfil(export.path, case.disk / "in" / "a_updated_1.csv", case)
    fulfil(export.path, case.disk / "in" / "b_updated_1.csv", case)
    outcome = poll_once(store, settings, partner)
    statuses = sorted(result.status for result in outcome.imports)
    assert statuses == ["already_processed", "applied"]
    with store.connect() as connection:
        audit_rows = connection.exec_driver_sql("select count(*) from audit").scalar()
    assert audit_rows == 17 * 4
    archived = sorted(path.name for path in (case.disk / "in" / "archive").iterdir())
    assert "a_updated_1.csv" in archived and "b_updated_1.csv" in archived


def test_a_name_already_in_the_archive_gets_a_time_tag(exchange: Any) -> None:
    """The same name sent again after the first was archived: the second is archived under
    NAME.<UTC time>.csv with its own report, and the first stays as it was."""
    settings, store, case = exchange
    partner = settings.partners["acme"]
    export = export_and_upload(store, settings, partner).export
    assert export is not None
    name = "orders_updated_again.csv"
    fulfil(export.path, case.disk / "in" / name, case)
    assert [result.status for result in poll_once(store, settings, partner).imports] == ["applied"]
    first = (case.disk / "in" / "archive" / name).read_bytes()
    fulfil(export.path, case.disk / "in" / name, case, carrier="USPS")
    assert [result.status for result in poll_once(store, settings, partner).imports] == ["applied"]
    archived = sorted(path.name for path in (case.disk / "in" / "archive").iterdir())
    assert len(archived) == 4, archived
    tagged = [entry for entry in archived if entry.startswith("orders_updated_again.2")]
    assert len(tagged) == 2, archived
    assert re.fullmatch(r"orders_updated_again\.\d{8}T\d{6}Z\.csv", min(tagged)), archived
    assert max(tagged) == min(tagged) + ".report.csv"
    assert (case.disk / "in" / "archive" / name).read_bytes() == first


def test_poll_summaries_count_in_words_people_read(exchange: Any, tmp_path: Path) -> None:
    """One file waiting to settle is "1 file", a file of one row is "1 row"."""
    settings, store, case = exchange
    export = export_and_upload(store, settings, settings.partners["acme"]).export
    assert export is not None
    one_row = pd.read_csv(export.path, dtype=str, keep_default_na=False).head(1)
    one_row.to_csv(tmp_path / "first.csv", index=False)
    fulfil(tmp_path / "first.csv", case.disk / "in" / "one_updated_1.csv", case)
    slow = make_settings(tmp_path, case, store_url=settings.store_url, settle_seconds=3600)
    waiting = poll_once(store, slow, slow.partners["acme"])
    assert waiting.summary == (
        "acme: 1 file still settling (unchanged for 3600 s before they are taken)"
    )
    taken = poll_once(store, settings, settings.partners["acme"])
    assert taken.summary == "acme: one_updated_1.csv: 1 row: 1 applied, 0 unchanged, 0 rejected"


def test_file_rejected_as_a_whole_goes_to_errors_with_report(exchange: Any) -> None:
    """A file missing a required column goes to errors/ with a report saying why."""
    settings, store, case = exchange
    bad = case.disk / "in" / "orders_updated_bad.csv"
    bad.write_text("order_id,item_id,shipped\r\n1,1001,true\r\n")
    case.give(bad)
    outcome = poll_once(store, settings, settings.partners["acme"])
    assert outcome.exit_code == 1
    assert outcome.imports[0].status == "rejected_file"
    errors = case.disk / "in" / "errors"
    assert sorted(path.name for path in errors.iterdir()) == [bad.name, bad.name + ".report.csv"]
    assert "shipped_date" in (errors / (bad.name + ".report.csv")).read_text()
    assert shipped_count(store) == 0


def test_a_file_over_the_size_limit_is_refused_without_downloading_it(
    exchange: Any, tmp_path: Path
) -> None:
    """A listed size over max_file_bytes: the file goes to errors/ untouched, with a report
    giving its size, the limit and what to do; it is recorded as rejected, never read."""
    settings, store, case = exchange
    settings = settings.model_copy(
        update={"daemon": settings.daemon.model_copy(update={"max_file_bytes": 100})}
    )
    big = case.disk / "in" / "big_updated_1.csv"
    big.write_bytes(b"order_id,item_id\r\n" + b"1,1001\r\n" * 100)
    case.give(big)
    outcome = poll_once(store, settings, settings.partners["acme"])
    [result] = outcome.imports
    assert result.status == "rejected_file"
    assert outcome.exit_code == 1
    assert not (settings.state_dir / "staging" / "acme" / big.name).exists()
    errors = case.disk / "in" / "errors"
    assert sorted(path.name for path in errors.iterdir()) == [big.name, big.name + ".report.csv"]
    report = pd.read_csv(errors / (big.name + ".report.csv"), dtype=str, keep_default_na=False)
    assert report["outcome"].tolist() == ["rejected"]
    assert report["reason"][0] == (
        "big_updated_1.csv is 0.0 MB, over the limit of 0 MB (max_file_bytes); it was not"
        " downloaded (split the file, or raise [daemon] max_file_bytes)"
    )
    with store.connect() as connection:
        states = connection.exec_driver_sql("select state from files where direction = 'import'")
        assert [row[0] for row in states] == ["rejected"]


def test_committed_but_not_archived_file_is_archived_not_applied_again(exchange: Any) -> None:
    """After a crash between commit and archive, the next poll archives the file and
    applies nothing twice."""
    settings, store, case = exchange
    partner = settings.partners["acme"]
    export = export_and_upload(store, settings, partner).export
    assert export is not None
    remote_file = case.disk / "in" / "x_updated_2.csv"
    fulfil(export.path, remote_file, case)
    # The "first run": downloaded and committed, then the process died before archiving.
    first = import_file(
        store,
        partner,
        settings_layout(settings),
        remote_file,
        report_path=case.disk.parent / f"{case.disk.name}-report.csv",
    )
    assert first.applied == 17
    outcome = poll_once(store, settings, partner)
    assert [result.status for result in outcome.imports] == ["already_processed"]
    assert (case.disk / "in" / "archive" / "x_updated_2.csv").exists()
    with store.connect() as connection:
        assert connection.exec_driver_sql("select count(*) from audit").scalar() == 17 * 4


def settings_layout(settings: Settings) -> Any:
    from ftpbridge.exchange.partners import partner_layout

    return partner_layout(settings, settings.partners["acme"])


def test_check_reports_every_step(exchange: Any) -> None:
    """check connects, lists, uploads, renames and deletes a probe, and leaves nothing."""
    settings, _store, case = exchange
    report = run_check(settings, settings.partners["acme"])
    assert [step.name for step in report.steps] == [
        "connect",
        "list inbox",
        "upload",
        "rename",
        "delete",
    ]
    assert report.ok, [step.detail for step in report.steps]
    assert list((case.disk / "out").iterdir()) == []


def test_check_with_wrong_credentials_fails_with_a_hint(exchange: Any, tmp_path: Path) -> None:
    """Wrong credentials (for a local directory: a missing folder) fail the connect step
    with advice, and check is not ok."""
    settings, _store, case = exchange
    if case.kind == "local":
        settings = make_settings(
            tmp_path, case, store_url=settings.store_url, path=str(tmp_path / "no-such-share")
        )
    else:
        settings = make_settings(
            tmp_path, case, store_url=settings.store_url, password="wrong-password"
        )
    report = run_check(settings, settings.partners["acme"])
    assert not report.ok
    assert report.steps[0].name == "connect"
    assert not report.steps[0].ok
    assert report.steps[0].hint
    if case.kind != "local":
        assert "password" in report.steps[0].hint


def test_done_marker_files_are_taken_only_with_their_marker(exchange: Any, tmp_path: Path) -> None:
    """With done_marker = true a file is taken only once NAME.done exists, and the marker is
    removed with it."""
    settings, store, case = exchange
    settings = make_settings(
        tmp_path, case, store_url=settings.store_url, done_marker=True, settle_seconds=3600
    )
    partner = settings.partners["acme"]
    export = export_and_upload(store, settings, partner).export
    assert export is not None
    name = "orders_updated_7.csv"
    fulfil(export.path, case.disk / "in" / name, case)
    assert poll_once(store, settings, partner).imports == []
    case.put("in/" + name + ".done")
    outcome = poll_once(store, settings, partner)
    assert [result.applied for result in outcome.imports] == [17]
    assert sorted(path.name for path in (case.disk / "in").iterdir()) == ["archive"]


def test_archive_by_copy_when_the_server_cannot_rename_across_folders(
    tmp_path: Path, store_url: str
) -> None:
    """A server that refuses to rename into another folder: the file is archived by copy
    and delete, completely, and the log says so."""
    from structlog.testing import capture_logs

    from tests.servers import start_ftp_server

    home = tmp_path / "ftp"
    (home / "p" / "in").mkdir(parents=True)
    (home / "p" / "out").mkdir(parents=True)
    with start_ftp_server(home, refuse_cross_directory_rename=True) as server:
        settings = build_settings(
            {
                "store": {"url": store_url},
                "daemon": {"state_dir": str(tmp_path / "state")},
                "partners": {
                    "acme": {
                        "default": True,
                        "transport": "ftp",
                        "host": server.host,
                        "port": server.port,
                        "username": server.username,
                        "password": server.password,
                        "outbox": "/p/out",
                        "inbox": "/p/in",
                        "settle_seconds": 0,
                        "timeout": 10,
                    }
                },
            }
        )
        store = open_store(settings.store_url)
        load_orders(store, EXAMPLES, list(settings.partners.values()))
        partner = settings.partners["acme"]
        export = export_and_upload(store, settings, partner).export
        assert export is not None
        frame = pd.read_csv(export.path, dtype=str, keep_default_na=False)
        frame["shipped"], frame["carrier"], frame["tracking_number"] = "1", "UPS", UPS
        frame["shipped_date"] = dt.datetime.now(dt.UTC).date().isoformat()
        frame.to_csv(home / "p" / "in" / "x_updated_9.csv", index=False)
        original = (home / "p" / "in" / "x_updated_9.csv").read_bytes()
        with capture_logs() as logs:
            outcome = poll_once(store, settings, partner)
        assert [result.applied for result in outcome.imports] == [17]
        assert (home / "p" / "in" / "archive" / "x_updated_9.csv").read_bytes() == original
        assert not (home / "p" / "in" / "x_updated_9.csv").exists()
        assert any("copying instead" in str(event.get("event")) for event in logs)
