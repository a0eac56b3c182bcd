"""Commands that only look (status, orders list, api-key list) never create a store: with a
config whose store does not exist they say where they looked and how to point at the right
one (the admin's `status` outside systemd used to make an empty store next to the config
and report every partner stale)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "command", [("status",), ("orders", "list"), ("api-key", "list")], ids=" ".join
)
def test_read_only_commands_never_create_a_store(run_cli, tmp_path: Path, command) -> None:
    """Exit 3 with an Error naming the missing store file and a Try line; nothing created."""
    config = tmp_path / "service" / "config.toml"
    config.parent.mkdir()
    config.write_text('[partners.acme]\ntransport = "local"\npath = "/srv/x"\n', encoding="utf-8")
    result = run_cli(*command, config=config)
    store = config.parent / "state" / "ftpbridge.db"
    assert result.exit_code == 3, result.stdout + result.stderr
    assert f"Error: there is no store at {store}" in result.stderr
    assert "Try: use the config the service runs with" in result.stderr
    assert not (config.parent / "state").exists()


def test_read_only_commands_read_an_existing_store(run_cli, config_file: Path) -> None:
    """Once something made the store (orders load, the service), they read it."""
    assert run_cli("db", "upgrade").exit_code == 0
    assert run_cli("orders", "list").exit_code == 0
    assert "acme" in run_cli("status").stdout
