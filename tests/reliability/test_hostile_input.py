"""Hostile and broken input: the corpus of tests/data/bad (generate.py writes it, EXPECTED.toml
says what each file must lead to), through ``import_file`` and through a poll.

Whatever the file, the outcome is a report, never a traceback, and never a partial apply:
the store changes by exactly what the report says was applied.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import resource
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ftpbridge.exchange.partners import partner_layout
from ftpbridge.files.import_results import ImportResult
from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.settings import build_settings
from ftpbridge.store import Store, open_store
from tests.reliability.conftest import Figures
from tests.reliability.support import (
    EXAMPLES,
    FTPBRIDGE,
    ftp_table,
    job,
    make_site,
    sftp_table,
    tally,
    write_updated,
)
from tests.servers import SSHServer, start_ftp_server

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
EXPECTED: dict[str, Any] = tomllib.loads((BAD / "EXPECTED.toml").read_text(encoding="utf-8"))
FILES = sorted(EXPECTED["files"])
HOSTILE_NAMES = (
    "../../etc/passwd_updated_1.csv",
    "evil\n_updated_1.csv",
    "a" * 300 + "_updated_1.csv",
)


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("bad_corpus", BAD / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The corpus, generated once for this module (the 1 GB file is sparse)."""
    return _generator().generate(tmp_path_factory.mktemp("bad"))  # type: ignore[no-any-return]


def test_the_corpus_and_its_expectations_match() -> None:
    """Every generated file has its expected outcome written down, and nothing more."""
    generated = set(_generator().corpus(__import__("datetime").date(2026, 11, 23)))
    assert generated | {"over_max_file_bytes.csv", "zip_bomb.xlsx"} == set(FILES)


def store_counts(store: Store) -> tuple[int, int, int, int]:
    """(shipped items, audit rows, applied ledger entries, rejected ledger entries)."""
    with store.connect() as connection:
        values = [
            connection.exec_driver_sql(sql).scalar() or 0
            for sql in (
                "select count(*) from items where status = 'shipped'",
                "select count(*) from audit",
                "select count(*) from files where direction = 'import' and state = 'applied'",
                "select count(*) from files where direction = 'import' and state = 'rejected'",
            )
        ]
    return values[0], values[1], values[2], values[3]


def bytes_read_by_this_process() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def peak_memory() -> int:
    """The peak resident memory of this process so far, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def check_report(result: ImportResult, report: Path) -> list[list[str]]:
    """The report exists, is CSV with the documented header, one line per reported row."""
    assert report.exists(), result
    with report.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row", "order_id", "item_id", "outcome", "reason"]
    if result.status == "rejected_file":
        assert len(rows) == 2 and rows[1][3] == "rejected"
    else:
        assert len(rows) - 1 == result.rows
    return rows


@pytest.mark.parametrize("name", FILES)
def test_bad_file_through_import_file(
    name: str, corpus: dict[str, Path], tmp_path: Path, store_url: str, figures: Figures
) -> None:
    """import_file on each corpus file: the outcome EXPECTED.toml names, a report, and the
    store changed by exactly what the report says (on SQLite and PostgreSQL)."""
    expected = EXPECTED["files"][name]
    settings = build_settings(
        {
            "store": {"url": store_url},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "partners": {"acme": {"default": True}},
        }
    )
    store = open_store(settings.store_url)
    try:
        partner = settings.partners["acme"]
        load_orders(store, EXAMPLES, [partner])
        path = tmp_path / name
        if name == "over_max_file_bytes.csv":
            path = corpus[name]  # sparse: never copied
        else:
            shutil.copyfile(corpus[name], path)
        report = tmp_path / (name + ".report.csv")
        before_read = bytes_read_by_this_process()
        peak_before = peak_memory()
        unhandled = 0
        try:
            result = import_file(
                store, partner, partner_layout(settings, partner), path, report_path=report
            )
        except Exception:
            unhandled = 1
            raise
        finally:
            figures.bad_input(f"import_file {name}", unhandled=unhandled)
        read = bytes_read_by_this_process() - before_read
        # Memory stays flat (a workbook's reader runs in a child process with limits of
        # its own): the peak of this process grows by less than 200 MB, whatever the file.
        assert peak_memory() - peak_before < 200_000_000, "memory grew reading " + name
        assert result.status == expected["status"], result
        rows = check_report(result, report)
        shipped, audit_rows, applied_files, rejected_files = store_counts(store)
        if result.status == "rejected_file":
            assert expected["message"] in result.message, result.message
            assert (shipped, audit_rows, applied_files, rejected_files) == (0, 0, 0, 1)
        else:
            counts = (result.applied, result.unchanged, result.rejected)
            assert counts == (expected["applied"], expected["unchanged"], expected["rejected"])
            assert (shipped, audit_rows, applied_files) == (result.applied, 4 * result.applied, 1)
        if "report" in expected:
            assert any(expected["report"] in cell for row in rows[1:] for cell in row), rows
        if name == "over_max_file_bytes.csv":
            assert read < 1_000_000, f"{read} bytes read from a file refused by its size"
    finally:
        store.close()


@pytest.mark.parametrize("store_backend", ["sqlite", "postgresql"])
def test_whole_corpus_through_one_poll(
    store_backend: str,
    corpus: dict[str, Path],
    tmp_path: Path,
    store_url: str,
    figures: Figures,
) -> None:
    """Every corpus file in one FTP inbox at once, with three hostile names in the listing:
    one poll takes each file to archive/ or errors/ with its report, skips the hostile
    names with a warning, never downloads the 1 GB file, and the store holds exactly what
    the reports say was applied."""
    home = tmp_path / "ftp"
    (home / "acme").mkdir(parents=True)
    with start_ftp_server(home, fake_names=HOSTILE_NAMES) as server:
        site = make_site(
            tmp_path, {"acme": ftp_table(server, "/acme")}, {"acme": home / "acme"},
            store_url=store_url,
        )  # fmt: skip
        inbox = site.inbox()
        for name in FILES:
            target = inbox / f"bad_updated_{name}"
            if name == "over_max_file_bytes.csv":
                with target.open("wb") as handle:  # sparse, like the original
                    handle.write(corpus[name].open("rb").read(4096))
                    handle.truncate(corpus[name].stat().st_size)
            else:
                shutil.copyfile(corpus[name], target)
        run = job(site)
        retrieved = server.stats.commands["RETR"]
    imported = [e for e in run.logs if e.get("event") == "file imported"]
    skipped = {e.get("name") for e in run.logs if e.get("event") == "unsafe remote name skipped"}
    hostile_logged = {repr(name)[:300] for name in HOSTILE_NAMES}  # as the warning shows it
    # Not handled: a file that got no outcome, an exception the cycle did not expect, a
    # hostile name that was not skipped.
    figures.bad_input(
        "poll of the whole corpus",
        tried=len(FILES),
        unhandled=len(FILES) - len(imported) + len(run.exceptions()),
    )
    figures.bad_input(
        "hostile remote names",
        tried=len(HOSTILE_NAMES),
        unhandled=len(hostile_logged - skipped),
    )
    assert run.ok is True, run.text()
    assert run.exceptions() == [] and "Traceback" not in run.text()
    assert skipped >= hostile_logged, run.text()
    assert retrieved == len(FILES) - 1  # the 1 GB file was refused from its listed size
    assert len(imported) == len(FILES)
    assert sorted(path.name for path in inbox.iterdir()) == ["archive", "errors"]
    rejected = {name for name in FILES if EXPECTED["files"][name]["status"] == "rejected_file"}
    errors = {p.name for p in (inbox / "errors").iterdir()}
    archive = {p.name for p in (inbox / "archive").iterdir()}
    for name in FILES:
        folder = errors if name in rejected else archive
        assert {f"bad_updated_{name}", f"bad_updated_{name}.report.csv"} <= folder, name
    applied = sum(int(e.get("applied") or 0) for e in imported)
    shipped, audit_rows, _applied_files, _rejected = store_counts(site.store)
    assert (shipped, audit_rows) == (applied, 4 * applied)
    site.store.close()


def test_hostile_name_on_openssh_is_skipped(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """A file whose name holds a newline, for real on OpenSSH's disk, is skipped with a
    warning and never becomes a local path; the good file next to it is applied once."""
    sshd: SSHServer = request.getfixturevalue("sshd")
    disk = sshd.upload_dir / tmp_path.name
    disk.mkdir()
    os.chown(disk, sshd.uid, sshd.gid)
    request.addfinalizer(lambda: shutil.rmtree(disk, ignore_errors=True))
    site = make_site(
        tmp_path,
        {"acme": sftp_table(sshd, f"/{tmp_path.name}")},
        {"acme": disk},
        owners={"acme": (sshd.uid, sshd.gid)},
    )
    evil = site.inbox() / "evil\n_updated_2.csv"
    write_updated(site.store, "acme", evil, give=lambda p: os.chown(p, sshd.uid, sshd.gid))
    site.drop("good_updated_2.csv")
    run = job(site)
    skipped = [e for e in run.logs if e.get("event") == "unsafe remote name skipped"]
    figures.bad_input(
        "newline in a name (sftp)", unhandled=int(not skipped) + len(run.exceptions())
    )
    assert run.ok is True, run.text()
    assert skipped, run.text()
    assert run.exceptions() == []
    assert evil.exists()
    staged = list((site.settings.state_dir).rglob("*evil*"))
    assert staged == []
    measured = tally(site.store, files=1, shipped=17)
    assert (measured.files_lost, measured.applied_twice, measured.updates_lost) == (0, 0, 0)


@pytest.mark.hostile
def test_a_huge_rejected_cell_is_cut_in_the_report_and_the_summary(
    corpus: dict[str, Path], tmp_path: Path, cli_subprocess: Any, figures: Figures
) -> None:
    """``ftpbridge import`` of a file whose rejected row holds a 200 KB item id (over the
    128 KB a CSV reader takes): the good rows are applied, the summary lists the rejected
    row with the id cut and marked (it never reads the report back), exit 1; the report
    holds the cell cut to 1,000 characters, not 200 KB."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "store.db"}"\n'
        f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n[partners.acme]\ndefault = true\n',
        encoding="utf-8",
    )
    loaded = cli_subprocess("--config", str(config), "orders", "load", str(EXAMPLES), cwd=tmp_path)
    assert loaded.returncode == 0, loaded
    path = tmp_path / "item_id_of_200kb.csv"
    shutil.copyfile(corpus[path.name], path)
    result = cli_subprocess("--config", str(config), "import", "--partner", "acme", str(path),
                            cwd=tmp_path)  # fmt: skip
    handled = result.returncode == 1 and "Internal error" not in result.stderr
    figures.bad_input("a rejected cell of 200 KB (import summary)", unhandled=int(not handled))
    assert handled, result
    assert "2 applied" in result.stdout and "1 rejected" in result.stdout
    assert "[cut: 200,000 characters]" in result.stdout
    assert len(result.stdout) < 10_000
    report = Path(str(path) + ".report.csv")
    assert report.stat().st_size < 10_000
    with report.open(encoding="utf-8", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert any(cell.endswith("… [cut: 200,000 characters]") for cell in cells)


def child_peak_memory(arguments: list[str], cwd: Path) -> tuple[int, str, int]:
    """Run ``ftpbridge ARGUMENTS`` as a process of its own: (exit code, output, peak
    resident memory in bytes of that process alone, from wait4)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTPBRIDGE_")}
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [FTPBRIDGE, *arguments], stdout=output, stderr=subprocess.STDOUT, env=env, cwd=cwd
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    return os.waitstatus_to_exitcode(status), text, usage.ru_maxrss * 1024


@pytest.mark.hostile
def test_a_huge_cell_or_header_is_refused_with_memory_flat(
    corpus: dict[str, Path], tmp_path: Path, cli_subprocess: Any, figures: Figures
) -> None:
    """``ftpbridge import`` of a file holding one cell of 30 MB, and of one whose header is
    3,000,000 commas: each is rejected as a whole naming the row (or the header) and the
    bound, and the command's peak memory stays within 64 MB of an ordinary import's
    (before: pandas tokenized them, 5.5 GB for a 150 MB cell, 2.5 GB for ten million
    commas)."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "store.db"}"\n'
        f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n[partners.acme]\ndefault = true\n',
        encoding="utf-8",
    )
    base = ["--config", str(config)]
    assert cli_subprocess(*base, "orders", "load", str(EXAMPLES), cwd=tmp_path).returncode == 0
    ordinary = tmp_path / "mixed_line_endings.csv"
    shutil.copyfile(corpus[ordinary.name], ordinary)
    code, output, baseline = child_peak_memory(
        [*base, "import", "--partner", "acme", str(ordinary)], tmp_path
    )
    assert code == 0, output
    header = "order_id,item_id,shipped,shipped_date,carrier,tracking_number"
    cell = tmp_path / "cell_of_30mb.csv"
    with cell.open("w", encoding="utf-8", newline="") as handle:
        handle.write(f"{header},note\r\n1,1001,TRUE,2026-11-23,UPS,1Z5R89390357567127,")
        for _ in range(30):
            handle.write("q" * 1_000_000)
        handle.write("\r\n")
    commas = tmp_path / "header_of_3m_commas.csv"
    commas.write_text(header + "," * 3_000_000 + "\r\n1,1001,TRUE,,UPS,\r\n", encoding="utf-8")
    unhandled = 0
    for path, words in ((cell, "row 2 is longer than 2 MB"), (commas, "its header is longer")):
        code, output, peak = child_peak_memory([*base, "import", "--partner", "acme", str(path)],
                                         tmp_path)  # fmt: skip
        ok = code == 2 and words in output and peak - baseline < 64 * 2**20
        unhandled += not ok
        assert ok, (path.name, code, output[-2000:], peak, baseline)
    figures.bad_input("a 30 MB cell and a 3,000,000-comma header", tried=2, unhandled=unhandled)
