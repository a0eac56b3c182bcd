"""Commands that only look (status, orders list, api-key list, notify list, skus list, an
export, import or inventory import with --dry-run) never create a store: with a config
whose store does not exist they say where they looked and how to point at the right one
(the admin's `status` outside systemd used to make an empty store next to the config and
report every partner stale)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("orders", "list"),
        ("api-key", "list"),
        ("notify", "list"),
        ("notify", "list", "--dead"),
        ("notify", "retry", "--all-dead"),
        ("export", "--partner", "acme", "--dry-run", "--out", "-"),
        ("export", "--partner", "acme", "--dry-run", "--out", "OUT/"),
        ("import", "--partner", "acme", "FILE", "--dry-run"),
        ("skus", "list"),
        ("inventory", "import", "--partner", "acme", "FILE", "--dry-run"),
    ],
    ids=" ".join,
)
def test_read_only_commands_never_create_a_store(run_cli, tmp_path: Path, command) -> None:
    """Exit 3 with an Error naming the missing store file and a Try line; nothing created
    (notify retry changes only events that exist; a dry run changes nothing, and writes
    no file either)."""
    config = tmp_path / "service" / "config.toml"
    config.parent.mkdir()
    config.write_text('[partners.acme]\ntransport = "local"\npath = "/srv/x"\n', encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    updated = tmp_path / "orders_updated.csv"
    updated.write_text("order_id,item_id,shipped\n", encoding="utf-8")
    places = {"OUT/": f"{out}/", "FILE": str(updated)}
    result = run_cli(*(places.get(word, word) for word in command), config=config)
    store = config.parent / "state" / "ftpbridge.db"
    assert result.exit_code == 3, result.stdout + result.stderr
    assert f"Error: there is no store at {store}" in result.stderr
    assert "Try: use the config the service runs with" in result.stderr
    assert not (config.parent / "state").exists()
    assert not list(out.iterdir())


def test_read_only_commands_read_an_existing_store(run_cli, config_file: Path) -> None:
    """Once something made the store (orders load, the service), they read it."""
    assert run_cli("db", "upgrade").exit_code == 0
    assert run_cli("orders", "list").exit_code == 0
    assert "acme" in run_cli("status").stdout
