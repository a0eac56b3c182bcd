"""An operator's config as an attacker or an unlucky admin writes it (issue 12, items 9 and
10, and the folders a poll moves files into): every mistake is a config error naming its
key, exit 2, never an internal error; a secret is never printed; nothing is written
outside the state directory.

Each case drives the installed ``ftpbridge`` command as a real process and records itself
as a bad input (``figures``): handled, or not.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ftpbridge.store import open_store
from tests.conftest import Completed
from tests.reliability.conftest import Figures
from tests.reliability.support import EXAMPLES, FTPBRIDGE, write_updated

pytestmark = pytest.mark.hostile  # listed one by one by scripts/reliability

SECRET = "pw-never-shown-7Hq2"


def run_config(
    cli_subprocess: Callable[..., Completed], folder: Path, text: str, *args: str
) -> Completed:
    config = folder / "config.toml"
    config.write_text(text, encoding="utf-8")
    config.chmod(0o600)
    return cli_subprocess("--config", str(config), *args, cwd=folder)


def handled(result: Completed, exit_code: int) -> bool:
    """The command failed as a person can act on: the exit code wanted, an Error and a
    Try line, no traceback, no internal error."""
    return (
        result.returncode == exit_code
        and "Error:" in result.stderr
        and "Try:" in result.stderr
        and "Traceback" not in result.stdout + result.stderr
        and "Internal error" not in result.stderr
    )


@pytest.mark.parametrize("debug", [False, True])
def test_a_password_in_the_store_url_query_is_never_printed(
    debug: bool, tmp_path: Path, cli_subprocess: Callable[..., Completed], figures: Figures
) -> None:
    """A store URL carrying its password as ``?password=`` (a server nobody listens on):
    the Error line, and with --debug the traceback too, show the URL with the password
    masked."""
    text = (
        f'[store]\nurl = "postgresql://bob@127.0.0.1:1/orders?password={SECRET}"\n'
        "[partners.acme]\n"  # status with no partner stops before opening the store
    )
    args = ("--debug", "status") if debug else ("status",)
    result = run_config(cli_subprocess, tmp_path, text, *args)
    leaked = SECRET in result.stdout + result.stderr
    figures.bad_input(f"store URL ?password= {'--debug' if debug else ''}", unhandled=int(leaked))
    assert result.returncode == 3, result
    assert "password=***" in result.stderr
    assert not leaked, result.stderr
    if debug:
        assert "Traceback" in result.stderr  # --debug still shows where it failed


def test_a_malformed_store_url_is_a_config_error_naming_the_key(
    tmp_path: Path, cli_subprocess: Callable[..., Completed], figures: Figures
) -> None:
    """``postgresql://bob:PW@[::1/db`` (a bracket not closed) is a config error naming
    ``[store] url`` with exit 2, not an internal error, and never shows the password."""
    text = f'[store]\nurl = "postgresql://bob:{SECRET}@[::1/db"\n'
    result = run_config(cli_subprocess, tmp_path, text, "status")
    ok = handled(result, 2) and "[store] url" in result.stderr
    figures.bad_input("malformed store URL", unhandled=int(not ok))
    assert ok, result
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("name", ["acme/eu", "../../escape", ".hidden", "x" * 65, "a\nb", ""])
@pytest.mark.parametrize("command", ["poll", "export"])
def test_a_partner_name_that_cannot_be_a_file_name_is_refused_at_load(
    name: str,
    command: str,
    tmp_path: Path,
    cli_subprocess: Callable[..., Completed],
    figures: Figures,
) -> None:
    """A partner table whose name holds a slash, climbs out with ``..``, starts with a dot,
    is too long or holds a control character: every command refuses the config (exit 2),
    naming the table; nothing is written anywhere (``../../escape`` would climb from
    ``state/outgoing`` to the test's folder): the state directory is never even created."""
    state = tmp_path / "state"
    quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    outside = tmp_path / "outside"
    text = (
        f'[daemon]\nstate_dir = "{state}"\n'
        f'[partners."{quoted}"]\ntransport = "local"\npath = "{outside}"\ndefault = true\n'
    )
    args = ["poll"] if command == "poll" else ["export", "--partner", name, "--upload"]
    result = run_config(cli_subprocess, tmp_path, text, *args)
    written = sorted(path.name for path in tmp_path.iterdir())
    ok = handled(result, 2) and "a partner name may hold only" in result.stderr
    clean = written == ["config.toml"]
    figures.bad_input(f"partner name {name[:20]!r} ({command})", unhandled=int(not (ok and clean)))
    assert ok, result
    assert "[partners." in result.stderr
    assert written == ["config.toml"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("archive_dir", "."), ("errors_dir", "./"), ("archive_dir", "/in"), ("errors_dir", "")],
)
def test_archive_or_errors_folder_that_is_the_inbox_is_refused(
    key: str,
    value: str,
    tmp_path: Path,
    cli_subprocess: Callable[..., Completed],
    figures: Figures,
) -> None:
    """``archive_dir = "."`` would put every taken file back in the inbox, to be taken
    again at every poll: the config is refused naming the key (the same for errors_dir)."""
    share = tmp_path / "share"
    (share / "in").mkdir(parents=True)
    text = (
        f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n'
        f'[partners.acme]\ntransport = "local"\npath = "{share}"\ninbox = "/in"\n'
        f'default = true\n{key} = "{value}"\n'
    )
    result = run_config(cli_subprocess, tmp_path, text, "poll")
    ok = handled(result, 2) and f"{key} = " in result.stderr and "the inbox itself" in result.stderr
    figures.bad_input(f"{key} = {value!r}", unhandled=int(not ok))
    assert ok, result
    assert os.listdir(share / "in") == []


# --------------------------------------------------------------------------- weak points


def local_partner(tmp_path: Path, password: str | None = None) -> str:
    """A config text: acme on a local share (in/ and out/ made), state and store here."""
    share = tmp_path / "share"
    for folder in ("in", "out"):
        (share / folder).mkdir(parents=True, exist_ok=True)
    text = (
        f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n'
        f'[partners.acme]\ntransport = "local"\npath = "{share}"\ninbox = "/in"\n'
        'outbox = "/out"\ndefault = true\nsettle_seconds = 0\n'
    )
    return text + (f'password = "{password}"\n' if password else "")


@pytest.mark.parametrize(
    ("mode", "password", "warned"),
    [(0o644, True, True), (0o640, True, False), (0o644, False, False)],
)
def test_a_config_holding_a_password_that_others_can_read_gets_a_warning(
    mode: int,
    password: bool,
    warned: bool,
    tmp_path: Path,
    cli_subprocess: Callable[..., Completed],
    figures: Figures,
) -> None:
    """A config file that anyone on the machine can read and that holds a password: every
    command warns, naming the file and the key (never the value) and what to do; a file
    only its group can read, or without a secret, gets no warning."""
    config = tmp_path / "config.toml"
    config.write_text(local_partner(tmp_path, SECRET if password else None), encoding="utf-8")
    config.chmod(mode)
    result = cli_subprocess("--config", str(config), "status", cwd=tmp_path)
    said = "anyone on this machine can read it" in result.stderr
    figures.bad_input(f"config mode {mode:o}, password {password}", unhandled=int(said != warned))
    assert said == warned, result.stderr
    assert SECRET not in result.stdout + result.stderr
    if warned:
        assert "[partners.acme] password" in result.stderr and "chmod o-r" in result.stderr


def test_files_holding_customer_data_are_private_whatever_the_umask(
    tmp_path: Path, figures: Figures
) -> None:
    """Under umask 000, the store (with its -wal/-shm), an export written by hand, an
    import's report and the poll's local copies are all mode 0600, their folders not
    readable by others (before: the store and its folder were 0644/0755 by umask)."""
    config = tmp_path / "config.toml"
    config.write_text(local_partner(tmp_path), encoding="utf-8")
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTPBRIDGE_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FTPBRIDGE, "--config", str(config), *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
            check=False, preexec_fn=lambda: os.umask(0),
        )  # fmt: skip

    assert run("orders", "load", str(EXAMPLES)).returncode == 0
    assert (
        run("export", "--partner", "acme", "--out", str(tmp_path / "by-hand.csv")).returncode == 0
    )
    drop = tmp_path / "share" / "in" / "x_updated_1.csv"
    write_updated(open_store(f"sqlite:///{tmp_path / 'state' / 'ftpbridge.db'}"), "acme", drop)
    assert run("poll").returncode == 0
    private = [
        tmp_path / "state" / "ftpbridge.db",
        tmp_path / "by-hand.csv",
        *(tmp_path / "state" / "archive" / "acme").iterdir(),
    ]
    assert len(private) == 4
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in private}
    folder = stat.S_IMODE((tmp_path / "state").stat().st_mode)
    exposed = [name for name, mode in modes.items() if mode != 0o600] + (
        ["state/"] if folder & 0o007 else []
    )
    figures.bad_input("files under umask 000", tried=len(private) + 1, unhandled=len(exposed))
    assert exposed == [], (modes, oct(folder))


def test_import_refuses_to_write_its_report_over_the_file(
    tmp_path: Path, cli_subprocess: Callable[..., Completed], figures: Figures
) -> None:
    """``import FILE --report FILE`` (or the same file by another path): refused, exit 2,
    the file untouched and nothing imported."""
    config = tmp_path / "config.toml"
    config.write_text(local_partner(tmp_path), encoding="utf-8")
    config.chmod(0o600)
    base = ("--config", str(config))
    assert cli_subprocess(*base, "orders", "load", str(EXAMPLES), cwd=tmp_path).returncode == 0
    updated = tmp_path / "updated.csv"
    updated.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\n"
        "1,1001,TRUE,2026-11-23,UPS,1Z5R89390357567127\n",
        encoding="utf-8",
    )
    before = updated.read_bytes()
    (tmp_path / "link.csv").symlink_to(updated)
    unhandled = 0
    for report in (str(updated), str(tmp_path / "link.csv")):
        result = cli_subprocess(*base, "import", "--partner", "acme", str(updated),
                                "--report", report, cwd=tmp_path)  # fmt: skip
        ok = handled(result, 2) and "would overwrite it" in result.stderr
        unhandled += not ok
        assert ok, result
    figures.bad_input("import --report FILE over FILE", tried=2, unhandled=unhandled)
    assert updated.read_bytes() == before
    status = json.loads(cli_subprocess(*base, "status", "--format", "json", cwd=tmp_path).stdout)
    assert status[0]["last_import"] is None


def test_inventory_import_refuses_to_write_its_report_over_the_file(
    tmp_path: Path, cli_subprocess: Callable[..., Completed], figures: Figures
) -> None:
    """``inventory import FILE --report FILE``: refused like ``import`` (the check lives in
    cli/report_target.py for both), exit 2, the warehouse's file untouched."""
    config = tmp_path / "config.toml"
    config.write_text(local_partner(tmp_path), encoding="utf-8")
    config.chmod(0o600)
    base = ("--config", str(config))
    stock = tmp_path / "inventory.csv"
    stock.write_text("sku,quantity\nX-1,5\n", encoding="utf-8")
    before = stock.read_bytes()
    result = cli_subprocess(*base, "inventory", "import", "--partner", "acme", str(stock),
                            "--report", str(stock), cwd=tmp_path)  # fmt: skip
    ok = handled(result, 2) and "would overwrite it" in result.stderr
    figures.bad_input("inventory import --report FILE over FILE", tried=1, unhandled=int(not ok))
    assert ok, result
    assert stock.read_bytes() == before


def test_a_poll_by_hand_counts_in_status(
    tmp_path: Path, cli_subprocess: Callable[..., Completed], figures: Figures
) -> None:
    """``ftpbridge poll --once`` from cron: status counts it as a poll (last poll set, not
    stale); a failed one counts as a failure."""
    config = tmp_path / "config.toml"
    config.write_text(local_partner(tmp_path), encoding="utf-8")
    config.chmod(0o600)
    base = ("--config", str(config))
    assert cli_subprocess(*base, "poll", "--once", cwd=tmp_path).returncode == 0
    row = json.loads(cli_subprocess(*base, "status", "--format", "json", cwd=tmp_path).stdout)[0]
    counted = row["last_poll"] is not None and not row["stale"]
    shutil.rmtree(tmp_path / "share" / "in")
    assert cli_subprocess(*base, "poll", "--once", cwd=tmp_path).returncode == 3
    after = json.loads(cli_subprocess(*base, "status", "--format", "json", cwd=tmp_path).stdout)[0]
    figures.bad_input("poll --once from cron in status", unhandled=int(not counted))
    assert counted, row
    assert after["consecutive_failures"] == 1 and after["last_error"]


def test_names_with_bidi_or_control_characters_are_escaped_everywhere(
    tmp_path: Path, cli_subprocess: Callable[..., Completed], figures: Figures
) -> None:
    """A file named ``x_updated_<U+202E>vsc.exe`` (a right-to-left override: a terminal
    shows it as ``...exe.csv``) and one with a zero-width space: taken like any file, and
    every line ftpbridge prints or logs shows the characters as escapes (\\u202e,
    \\u200b), never raw."""
    config = tmp_path / "config.toml"
    config.write_text(local_partner(tmp_path), encoding="utf-8")
    config.chmod(0o600)
    base = ("--config", str(config))
    assert cli_subprocess(*base, "orders", "load", str(EXAMPLES), cwd=tmp_path).returncode == 0
    store = open_store(f"sqlite:///{tmp_path / 'state' / 'ftpbridge.db'}")
    names = ["x_updated_\u202evsc.exe", "y_updated_\u200b1.csv"]
    for number, name in enumerate(names):
        write_updated(store, "acme", tmp_path / "share" / "in" / name, padding=100 * number)
    store.close()
    result = cli_subprocess(*base, "--log-level", "info", "poll", cwd=tmp_path)
    output = result.stdout + result.stderr
    raw = [character for character in ("\u202e", "\u200b") if character in output]
    figures.bad_input("bidi and zero-width characters in names", tried=2, unhandled=len(raw))
    assert result.returncode == 0, output
    assert raw == []
    assert "x_updated_\\u202evsc.exe" in result.stdout
    assert "y_updated_\\u200b1.csv" in result.stdout
    assert "\\u202e" in result.stderr  # the log lines name the file too, escaped
