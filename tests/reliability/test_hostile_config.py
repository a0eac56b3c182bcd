"""An operator's config as an attacker or an unlucky admin writes it (issue 12, items 9 and
10, and the folders a poll moves files into): every mistake is a config error naming its
key, exit 2, never an internal error; a secret is never printed; nothing is written
outside the state directory.

Each case drives the installed ``ftpbridge`` command as a real process and records itself
as a bad input (``figures``): handled, or not.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Completed
from tests.reliability.conftest import Figures

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
    text = f'[store]\nurl = "postgresql://bob@127.0.0.1:1/orders?password={SECRET}"\n'
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
