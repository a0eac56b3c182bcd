"""The command line's global options (--config, --log-level, --debug): before or after the
command, as systemd units, cron lines and people write them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ftpbridge.cli import main


def test_global_options_work_before_and_after_the_command(run_cli, config_file: Path) -> None:
    """``status --config PATH`` is ``--config PATH status``; nested commands take them too."""
    assert run_cli("db", "upgrade").exit_code == 0
    before = run_cli("status")
    after = run_cli("status", "--config", str(config_file), config=None)
    assert "No such option" not in after.stderr
    assert (after.exit_code, after.stdout) == (before.exit_code, before.stdout)
    assert "acme" in after.stdout
    listed = run_cli("orders", "list", "--config", str(config_file), "--debug", config=None)
    assert listed.exit_code == 0, listed.stderr


def test_an_option_after_the_command_wins_over_the_same_one_before(
    run_cli, config_file: Path, tmp_path: Path
) -> None:
    """The later --config counts (as for any repeated option); one left out after the
    command never undoes the one given before it."""
    missing = tmp_path / "nowhere.toml"
    result = run_cli("status", "--config", str(missing))  # run_cli puts --config first
    assert result.exit_code == 2
    assert str(missing) in result.stderr
    assert run_cli("db", "upgrade").exit_code == 0
    kept = run_cli("status", "--log-level", "error")
    assert "acme" in kept.stdout


def test_help_shows_the_global_options_on_both_sides() -> None:
    """The group's help says they go either side; each command's help lists them."""
    runner = CliRunner()
    assert "before or after the" in runner.invoke(main, ["--help"]).stdout
    for command in (["run"], ["orders", "list"], ["db", "upgrade"]):
        shown = runner.invoke(main, [*command, "--help"]).stdout
        for option in ("--config", "--log-level", "--debug"):
            assert option in shown, (command, option)
