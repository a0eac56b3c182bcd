"""``ftpbridge config example`` and ``config check``, and the other pointers people need
(issue 11 item 19): the example ships in the package and is valid, check shows the values
in effect with secrets masked, --limit says when more match, status's counts say how they
overlap and where the server is."""

from __future__ import annotations

import tomllib
from pathlib import Path

from click.testing import CliRunner

from ftpbridge.cli import main

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY / "examples" / "orders.jsonl"


def test_config_example_prints_the_shipped_example_and_it_is_valid(tmp_path: Path) -> None:
    """It prints config.example.toml byte for byte (from the package, not a checkout), and
    config check accepts it as it is."""
    runner = CliRunner()
    printed = runner.invoke(main, ["config", "example"])
    assert printed.exit_code == 0
    assert printed.stdout == (REPOSITORY / "config.example.toml").read_text(encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(printed.stdout, encoding="utf-8")
    checked = runner.invoke(main, ["config", "check", "--config", str(config)])
    assert checked.exit_code == 0, checked.stderr
    assert "The config is valid (2 partners)" in checked.stderr
    assert "[partners.acme]\nenabled = true" in checked.stdout
    assert tomllib.loads(checked.stdout)["partners"]["acme"]["enabled"] is True


def test_config_check_masks_secrets_and_names_their_source(tmp_path: Path, monkeypatch) -> None:
    """A password in the file, one in the environment, a credential: all masked, each
    with where it comes from; the store URL's password hidden; an invalid config exits 2."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "ftpbridge_b-password").write_text("cred-secret-9\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    monkeypatch.setenv("FTPBRIDGE_PARTNERS__C__PASSWORD", "env-secret-8")
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\nurl = "postgresql://shop:store-secret-7@db/ftpbridge"\n'
        '[partners.a]\ntransport = "ftp"\nhost = "h"\npassword = "file-secret-6"\n'
        '[partners.b]\ntransport = "ftp"\nhost = "h"\n'
        '[partners.c]\ntransport = "ftp"\nhost = "h"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    assert result.exit_code == 0, result.stderr
    text = result.stdout + result.stderr
    for secret in ("cred-secret-9", "env-secret-8", "store-secret-7", "file-secret-6"):
        assert secret not in text
    assert "postgresql://shop:***@db/ftpbridge ([store] url in the config)" in text
    assert 'password = "**********"  # in the config file' in text
    assert 'password = "**********"  # from the credential b-password' in text
    assert (
        'password = "**********"  # from the environment variable FTPBRIDGE_PARTNERS__C__PASSWORD'
        in text
    )
    config.write_text("[partners.a]\nport = 99999\n", encoding="utf-8")
    invalid = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    assert invalid.exit_code == 2
    assert "partners.a.port: must be at most 65535" in invalid.stderr


def test_config_check_hides_secrets_in_urls_and_the_notify_sections(
    tmp_path: Path, monkeypatch
) -> None:
    """The store URL's ?password=, the webhook URL's user:password@ and ?token=, [notify]
    webhook_secret and [notify.email] password: none printed, each secret masked with
    where it comes from (the config, the environment, a file)."""
    (tmp_path / "webhook.secret").write_text("whsec-file-5\n", encoding="utf-8")
    monkeypatch.setenv("FTPBRIDGE_NOTIFY__EMAIL__PASSWORD", "smtp-env-4")
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\nurl = "postgresql://bob:store-pw-3@db.example/db?password=zzz9"\n'
        '[notify]\nwebhook_url = "https://u:tok3npw@hooks.example/h?token=abc123&x=1"\n'
        'webhook_secret_file = "webhook.secret"\n'
        '[notify.email]\nhost = "smtp.example"\nfrom = "shop@example.com"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    assert result.exit_code == 0, result.stderr
    text = result.stdout + result.stderr
    for secret in ("zzz9", "store-pw-3", "tok3npw", "abc123", "whsec-file-5", "smtp-env-4"):
        assert secret not in text
    assert "# store: postgresql://bob:***@db.example/db?password=*** (" in text
    assert 'webhook_url = "https://u:***@hooks.example/h?token=***&x=1"' in text
    assert f'webhook_secret = "**********"  # from the file {Path("webhook.secret")}' in text
    assert (
        'password = "**********"  # from the environment variable'
        " FTPBRIDGE_NOTIFY__EMAIL__PASSWORD" in text
    )


def test_config_check_prints_toml_that_reads_back(tmp_path: Path) -> None:
    """Standard output parses with tomllib: [notify.email] is a table of its own, masked
    secrets are quoted strings, a key not set is left out with a comment saying what
    applies, top-level keys come before the first table, a partner's name needing quotes
    is quoted; the verdict goes to standard error."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[notify.email]\nhost = "smtp.example"\nfrom = "shop@example.com"\n'
        'password = "smtp-pw-2"\n'
        '[partners.acme]\ntransport = "ftp"\nhost = "h"\npassword = "p3"\n'
        '[partners."acme.eu"]\ntransport = "sftp"\nhost = "h2"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    assert result.exit_code == 0, result.stderr
    document = tomllib.loads(result.stdout)
    assert document["partners"]["acme.eu"]["host"] == "h2"
    assert '[partners."acme.eu"]' in result.stdout
    email = document["notify"]["email"]
    assert email["host"] == "smtp.example" and email["password"] == "**********"
    assert "port" not in email and "password_file" not in email
    assert "# port: not set (default: 587)" in result.stdout
    assert document["partners"]["acme"]["password"] == "**********"
    assert "port" not in document["partners"]["acme"]
    assert "# port: not set (default: 21)" in result.stdout
    assert "# schemas_dir: not set" in result.stdout.split("[store]")[0]
    assert document["daemon"]["workers"] == 4
    assert "The config is valid (2 partners)" in result.stderr
    assert "The config is valid" not in result.stdout


def test_limit_says_when_more_items_match(run_cli) -> None:
    """--limit 3 of 17: three rows on stdout, a note on stderr; --limit 100: no note."""
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    limited = run_cli("orders", "list", "--limit", "3", "--format", "csv")
    assert len(limited.stdout.splitlines()) == 4
    assert "Only the first 3 items are shown: more match." in limited.stderr
    everything = run_cli("orders", "list", "--limit", "100")
    assert "more match" not in everything.stderr


def test_status_says_where_and_how_counts_overlap(run_cli, config_file: Path) -> None:
    """host:port of the server, and past due counted among the items waiting."""
    config_file.write_text(
        config_file.read_text(encoding="utf-8").replace(
            "[partners.ac]\n", '[partners.ac]\ntransport = "sftp"\nhost = "sftp.example"\n'
        ),
        encoding="utf-8",
    )
    assert run_cli("orders", "load", str(EXAMPLES)).exit_code == 0
    shown = run_cli("status")
    assert "ac  (sftp://sftp.example:22)" in shown.stdout
    assert "acknowledged (of these, " in shown.stdout
    help_text = run_cli("orders", "list", "--help", config=None).stdout
    assert "past_due (not" in help_text and "pending (loaded, not" in help_text
