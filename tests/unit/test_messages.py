"""Messages for people (issue 11 items 16, 17, 18): no pydantic wording, formats as
examples, every error with its Try: line, "did you mean" for near misses, an environment
override blamed on its variable, and exit codes a monitoring script can trust."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftpbridge.errors import ConfigError
from ftpbridge.settings import build_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"


def _problems(data: dict) -> str:
    with pytest.raises(ConfigError) as raised:
        build_settings(data)
    return raised.value.message


def test_config_problems_in_words_for_people() -> None:
    """A list, a number, a choice and a bound, each named by its key with the value given;
    an unknown key near a known one gets "did you mean"."""
    message = _problems(
        {
            "partners": {
                "acme": {
                    "skus": "ACME-*",
                    "port": "twenty",
                    "export_mode": "new",
                    "poll_interval": 0,
                    "hots": "sftp.example",
                }
            }
        }
    )
    assert "Input should" not in message and "valid tuple" not in message
    assert "the configuration has 5 problems:" in message
    assert "partners.acme.skus: must be a list, e.g. [" in message
    assert "(it is 'ACME-*')" in message
    assert "partners.acme.port: must be a whole number (no quotes) (it is 'twenty')" in message
    assert "partners.acme.export_mode: must be 'all_unshipped' or 'new_only' (it is 'new')" in (
        message
    )
    assert "partners.acme.poll_interval: must be more than 0 (it is '0')" in message
    assert "partners.acme.hots: unknown key (did you mean 'host'?)" in message


def test_an_environment_override_is_blamed_on_its_variable(monkeypatch) -> None:
    """FTPBRIDGE_PARTNERS__ACME__TIMEOUT=abc names the variable, not the file."""
    monkeypatch.setenv("FTPBRIDGE_PARTNERS__ACME__TIMEOUT", "abc")
    message = _problems({"partners": {"acme": {"default": True}}})
    assert message.startswith("the environment has 1 problem:")
    assert (
        "FTPBRIDGE_PARTNERS__ACME__TIMEOUT (environment variable, for partners.acme.timeout):"
        " must be a number (it is 'abc')"
    ) in message


def test_date_formats_are_shown_as_examples(run_cli, tmp_path: Path) -> None:
    """A date in no accepted format lists them as people write them (MM/DD/YYYY)."""
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    updated = tmp_path / "u.csv"
    updated.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\n"
        "2,1003,true,2026.11.30,UPS,1Z5R89390357567127\n",
        encoding="utf-8",
    )
    result = run_cli("import", "--partner", "ac", str(updated))
    assert "is not a date in an accepted format (YYYY-MM-DD, MM/DD/YYYY)" in result.stdout
    assert "%m" not in result.stdout


def test_every_error_has_a_try_line(run_cli, tmp_path: Path) -> None:
    """orders load of a missing file, a mistyped filter, command or partner: Error and Try,
    with "did you mean" where there is a near miss; nothing created on the way."""
    missing = run_cli("orders", "load", str(tmp_path / "nosuch.jsonl"))
    assert missing.exit_code == 2
    assert f"Error: no file {tmp_path / 'nosuch.jsonl'}" in missing.stderr
    assert "\nTry: " in missing.stderr
    assert not (tmp_path / "ftpbridge.db").exists()
    mistyped = run_cli("orders", "list", "--filter", "pendng")
    assert mistyped.exit_code == 2
    assert mistyped.stderr.startswith("Error: ")
    assert "Did you mean 'pending'?" in mistyped.stderr
    assert "Try: ftpbridge orders list --help" in mistyped.stderr
    command = run_cli("orders", "lst")
    assert command.stderr.splitlines()[-1] == "Try: ftpbridge orders --help"
    partner = run_cli("export", "--partner", "acm", "--dry-run")
    assert partner.exit_code == 2
    assert "did you mean 'acme'?" in partner.stderr
    assert "Try: --partner acme" in partner.stderr


def test_status_without_partners_is_not_healthy(tmp_path: Path, run_cli) -> None:
    """No partner configured: exit 1, an Error saying so (JSON: [] on stdout)."""
    config = tmp_path / "empty.toml"
    config.write_text("[daemon]\nworkers = 2\n", encoding="utf-8")
    for extra in ((), ("--format", "json")):
        result = run_cli("status", *extra, config=config)
        assert result.exit_code == 1
        assert "Error: no partner is configured" in result.stderr
    assert json.loads(run_cli("status", "--format", "json", config=config).stdout) == []


def test_run_with_nothing_to_serve_refuses_to_start(tmp_path: Path, run_cli) -> None:
    """No enabled partner with a transport, no API, no orders inbox: exit 2, no daemon."""
    config = tmp_path / "manual.toml"
    config.write_text("[partners.acme]\ndefault = true\n", encoding="utf-8")
    result = run_cli("run", config=config)
    assert result.exit_code == 2
    assert "nothing to run in" in result.stderr
    assert "none of its 1 partner is enabled with a transport" in result.stderr
    assert "Try: set transport" in result.stderr


def test_orders_no_partner_receives_exit_1_with_the_count(tmp_path: Path, run_cli) -> None:
    """Items that match no partner and no default: loaded, but exit 1 and the count."""
    config = tmp_path / "no-default.toml"
    config.write_text('[partners.acme]\nskus = ["NOTHING-*"]\n', encoding="utf-8")
    result = run_cli("orders", "load", str(EXAMPLES), config=config)
    assert result.exit_code == 1
    assert "Warning: 18 items match no partner's skus" in result.stderr
    assert "Try: add 'skus' or 'default = true'" in result.stderr
    assert "Loaded 12 orders (12 new, 0 updated) with 18 items" in result.stdout
