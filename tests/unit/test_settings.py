"""Configuration: one TOML file, FTPBRIDGE_* overrides, every problem named at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftpbridge.errors import ConfigError
from ftpbridge.settings import build_settings, load_settings


def write(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_two_partners_load_with_their_own_values(settings) -> None:
    """The shared config gives two partners, named after their tables, with their values."""
    assert set(settings.partners) == {"acme", "ac"}
    assert settings.partners["acme"].name == "acme"
    assert settings.partners["acme"].default is True
    ac = settings.partners["ac"]
    assert (ac.name, ac.skus, ac.timezone, ac.date_formats) == (
        "ac",
        ("AC-*",),
        "America/New_York",
        ("%m/%d/%Y",),
    )
    assert ac.edit_window_days == 15
    assert ac.export_mode == "all_unshipped"


def test_unknown_keys_and_wrong_types_are_all_named_at_once(tmp_path: Path) -> None:
    """A file with several mistakes reports each, naming its full key, in one error."""
    path = write(
        tmp_path,
        """
        [store]
        ulr = "sqlite:///x.db"
        [partners.acme]
        default = true
        hots = "ftp.example.com"
        edit_window_days = "fifteen"
        timezone = "Mars/Olympus"
        [daemon]
        workers = "many"
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    problems = caught.value.problems
    text = str(caught.value)
    assert str(path) in text
    expected_keys = (
        "store.ulr",
        "partners.acme.hots",
        "partners.acme.edit_window_days",
        "partners.acme.timezone",
        "daemon.workers",
    )
    for key in expected_keys:
        assert any(problem.startswith(key + ":") for problem in problems), (key, problems)
        assert key in text
    assert len(problems) == len(expected_keys)
    assert any("unknown key" in problem for problem in problems if "hots" in problem)
    assert any("Mars/Olympus" in problem for problem in problems)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    """A syntax error is a ConfigError naming the file, not a TOML traceback."""
    path = write(tmp_path, "[partners.acme\ndefault = true\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_settings(path)
    assert str(path) in caught.value.message


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    """--config pointing nowhere is an error naming the path."""
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_settings(missing)
    assert str(missing) in caught.value.message


def test_environment_overrides_a_partner_key(tmp_path: Path, monkeypatch) -> None:
    """FTPBRIDGE_PARTNERS__<NAME>__<KEY> overrides the file and keeps the other keys."""
    path = write(
        tmp_path,
        '[partners.x]\ndefault = true\nhost = "from-file.example.com"\ntransport = "sftp"\n',
    )
    monkeypatch.setenv("FTPBRIDGE_PARTNERS__X__HOST", "from-env.example.com")
    monkeypatch.setenv("FTPBRIDGE_PARTNERS__X__EDIT_WINDOW_DAYS", "7")
    settings = load_settings(path)
    partner = settings.partners["x"]
    assert partner.host == "from-env.example.com"
    assert partner.edit_window_days == 7
    assert partner.transport == "sftp"
    assert partner.default is True
    assert partner.name == "x"


def test_environment_override_reaches_a_partner_named_with_capitals(
    tmp_path: Path, monkeypatch
) -> None:
    """Environment names are case-insensitive: FTPBRIDGE_PARTNERS__ACME__PASSWORD overrides
    the partner the file calls "Acme", and no second partner "acme" appears."""
    path = write(tmp_path, '[partners.Acme]\ndefault = true\nhost = "from-file"\n')
    monkeypatch.setenv("FTPBRIDGE_PARTNERS__ACME__HOST", "from-env")
    monkeypatch.setenv("FTPBRIDGE_PARTNERS__ACME__PASSWORD", "env-secret")
    settings = load_settings(path)
    assert list(settings.partners) == ["Acme"]
    partner = settings.partners["Acme"]
    assert (partner.name, partner.host, partner.default) == ("Acme", "from-env", True)
    assert partner.secret_password() == "env-secret"


def test_environment_can_add_a_partner(tmp_path: Path, monkeypatch) -> None:
    """A partner that only the environment names is added, with its name."""
    path = write(tmp_path, "[partners.acme]\ndefault = true\n")
    monkeypatch.setenv("FTPBRIDGE_PARTNERS__EXTRA__SKUS", '["X-*"]')
    settings = load_settings(path)
    assert settings.partners["extra"].name == "extra"
    assert settings.partners["extra"].skus == ("X-*",)


def test_environment_override_with_a_wrong_type_names_the_key(tmp_path: Path, monkeypatch) -> None:
    """A bad value from the environment names the variable (and the key it sets)."""
    path = write(tmp_path, "[partners.x]\ndefault = true\n")
    monkeypatch.setenv("FTPBRIDGE_PARTNERS__X__PORT", "not-a-port")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert any(
        problem.startswith(
            "FTPBRIDGE_PARTNERS__X__PORT (environment variable, for partners.x.port)"
        )
        for problem in caught.value.problems
    )
    assert caught.value.message.startswith("the environment has 1 problem")


def test_environment_overrides_the_store_url(tmp_path: Path, monkeypatch) -> None:
    """FTPBRIDGE_STORE__URL wins over [store] url."""
    path = write(tmp_path, '[store]\nurl = "sqlite:///file.db"\n')
    monkeypatch.setenv("FTPBRIDGE_STORE__URL", "sqlite:////var/tmp/env.db")
    assert load_settings(path).store_url == "sqlite:////var/tmp/env.db"


def test_two_default_partners_are_rejected(tmp_path: Path) -> None:
    """Only one partner may say default = true; the error names both."""
    path = write(tmp_path, "[partners.a]\ndefault = true\n[partners.b]\ndefault = true\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "default" in message
    assert "a" in message
    assert "b" in message
    assert "only one" in message


def test_passwords_never_appear_in_repr_or_str(tmp_path: Path) -> None:
    """Secrets (password, passphrase, a store URL with a password) are masked everywhere."""
    path = write(
        tmp_path,
        """
        [store]
        url = "postgresql://bridge:store-secret-1@db.example.com/bridge"
        [partners.x]
        default = true
        transport = "sftp"
        host = "sftp.example.com"
        password = "hunter2-partner-secret"
        private_key_passphrase = "passphrase-secret-3"
        """,
    )
    settings = load_settings(path)
    partner = settings.partners["x"]
    shown = " ".join(
        [repr(settings), str(settings), repr(partner), str(partner), str(settings.model_dump())]
    )
    for secret in ("hunter2-partner-secret", "passphrase-secret-3", "store-secret-1"):
        assert secret not in shown
    assert partner.secret_password() == "hunter2-partner-secret"
    assert partner.secret_passphrase() == "passphrase-secret-3"


def test_a_wrong_secret_type_does_not_echo_the_value(tmp_path: Path) -> None:
    """A password of the wrong type is reported by key, never by value."""
    path = write(tmp_path, '[partners.x]\ndefault = true\npassword = ["hunter2-in-a-list"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert any(problem.startswith("partners.x.password:") for problem in caught.value.problems)
    assert "hunter2-in-a-list" not in str(caught.value)


def test_password_file_is_read_and_trailing_newline_dropped(tmp_path: Path) -> None:
    """password_file holds the password; the final newline an editor adds is not part of it."""
    secret = tmp_path / "acme.pw"
    secret.write_text("s3cret with spaces \n", encoding="utf-8")
    settings = build_settings(
        {"partners": {"acme": {"default": True, "password_file": str(secret)}}}
    )
    assert settings.partners["acme"].secret_password() == "s3cret with spaces "


def test_missing_password_file_is_a_config_error(tmp_path: Path) -> None:
    """A password_file that does not exist is named in a ConfigError."""
    settings = build_settings(
        {"partners": {"acme": {"default": True, "password_file": str(tmp_path / "gone")}}}
    )
    with pytest.raises(ConfigError, match="gone"):
        settings.partners["acme"].secret_password()


def test_password_and_password_file_together_are_rejected(tmp_path: Path) -> None:
    """Setting both is ambiguous and refused."""
    with pytest.raises(ConfigError, match="password_file"):
        build_settings(
            {"partners": {"acme": {"password": "x", "password_file": str(tmp_path / "f")}}}
        )


def test_systemd_credential_supplies_the_password(tmp_path: Path, monkeypatch) -> None:
    """With no password in the config, $CREDENTIALS_DIRECTORY/<partner>-password is used."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "acme-password").write_text("from-systemd\n", encoding="utf-8")
    (credentials / "acme-private-key-passphrase").write_text("phrase\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = build_settings({"partners": {"acme": {"default": True}, "other": {}}})
    assert settings.partners["acme"].secret_password() == "from-systemd"
    assert settings.partners["acme"].secret_passphrase() == "phrase"
    assert settings.partners["other"].secret_password() is None


def test_relative_password_file_is_looked_up_in_the_credentials_directory(
    tmp_path: Path, monkeypatch
) -> None:
    """A relative password_file names a credential when systemd passes a directory."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "acme.secret").write_text("credential-file\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    monkeypatch.chdir(tmp_path)
    settings = build_settings({"partners": {"acme": {"password_file": "acme.secret"}}})
    assert settings.partners["acme"].secret_password() == "credential-file"


def test_relative_password_file_is_next_to_the_config(tmp_path: Path, monkeypatch) -> None:
    """A relative password_file is taken from the config file's folder, like private_key
    and known_hosts, whatever the working directory (systemd starts the service in /)."""
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "acme.pw").write_text("next-to-config\n", encoding="utf-8")
    (folder / "acme.phrase").write_text("phrase-next-to-config\n", encoding="utf-8")
    path = write(
        folder,
        '[partners.acme]\npassword_file = "acme.pw"\nprivate_key_passphrase_file = "acme.phrase"\n',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    partner = load_settings(path).partners["acme"]
    assert partner.secret_password() == "next-to-config"
    assert partner.secret_passphrase() == "phrase-next-to-config"


def test_no_password_anywhere_is_none(monkeypatch) -> None:
    """Without password, file or credential the password is simply absent."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    settings = build_settings({"partners": {"acme": {}}})
    assert settings.partners["acme"].secret_password() is None


def test_relative_sqlite_url_is_resolved_next_to_the_config(settings, config_file: Path) -> None:
    """sqlite:///ftpbridge.db in a config means the file beside that config, whatever the cwd."""
    assert settings.store_url == f"sqlite:///{config_file.parent / 'ftpbridge.db'}"


def test_relative_sqlite_url_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch
) -> None:
    """Loading the same config from another cwd gives the same absolute store path."""
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write(folder, '[store]\nurl = "sqlite:///data/bridge.db"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_settings(path).store_url == f"sqlite:///{folder / 'data' / 'bridge.db'}"
    monkeypatch.chdir(folder)
    assert load_settings("config.toml").store_url == f"sqlite:///{folder / 'data' / 'bridge.db'}"


def test_absolute_and_memory_sqlite_urls_are_kept(tmp_path: Path) -> None:
    """Absolute SQLite paths and in-memory URLs are not rewritten."""
    absolute = f"sqlite:///{tmp_path / 'abs.db'}"
    assert build_settings({"store": {"url": absolute}}).store_url == absolute
    assert build_settings({"store": {"url": "sqlite://"}}).store_url == "sqlite://"


def test_default_store_is_in_the_state_directory(tmp_path: Path) -> None:
    """Without [store] url the store is ftpbridge.db in the state directory."""
    path = write(tmp_path, "[partners.x]\ndefault = true\n")
    assert load_settings(path).store_url == f"sqlite:///{tmp_path / 'state' / 'ftpbridge.db'}"


def test_unknown_partner_lists_the_configured_ones(settings) -> None:
    """Asking for a partner that is not configured names the ones that are."""
    with pytest.raises(ConfigError) as caught:
        settings.partner("nobody")
    assert "nobody" in caught.value.message
    assert "ac, acme" in caught.value.message


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("delimiter", "::", "one character"),
        ("encoding", "klingon-8", "unknown encoding"),
        ("filename_template", "{date:%Y}/orders.csv", "plain file name"),
        ("filename_template", "orders_{day}.csv", "cannot be filled in"),
        ("export_mode", "sometimes", "export_mode"),
        ("line_ending", "cr", "line_ending"),
    ],
)
def test_partner_values_are_checked(key: str, value: str, fragment: str) -> None:
    """Per-partner file settings are validated when the config is loaded, naming the key."""
    with pytest.raises(ConfigError) as caught:
        build_settings({"partners": {"x": {key: value}}})
    problems = caught.value.problems
    assert any(problem.startswith(f"partners.x.{key}:") for problem in problems), problems
    assert fragment in str(caught.value)


def test_delimiter_names_are_accepted() -> None:
    """'tab' and 'semicolon' are spelled out in TOML and mean the characters."""
    settings = build_settings(
        {"partners": {"t": {"delimiter": "tab"}, "s": {"delimiter": "semicolon"}}}
    )
    assert settings.partners["t"].delimiter == "\t"
    assert settings.partners["s"].delimiter == ";"


def test_settings_are_frozen(settings) -> None:
    """The settings object cannot be changed after validation."""
    with pytest.raises(Exception, match="frozen"):
        settings.partners["acme"].timezone = "UTC"


def test_every_documented_credential_is_read(tmp_path: Path, monkeypatch) -> None:
    """store-url, PARTNER-password, PARTNER-private-key, PARTNER-private-key-passphrase,
    webhook-secret and smtp-password
    (settings.CREDENTIALS, the names the unit, README and example document) are each read,
    under their own name and as the unit's folder LoadCredential= names them
    (ftpbridge_<name>); a value in the config wins over its credential."""
    from ftpbridge.settings import CREDENTIAL_PREFIX, CREDENTIALS

    assert set(CREDENTIALS) == {
        "store-url",
        "PARTNER-password",
        "PARTNER-private-key",
        "PARTNER-private-key-passphrase",
        "webhook-secret",
        "smtp-password",
    }
    for prefix in ("", CREDENTIAL_PREFIX):
        credentials = tmp_path / f"credentials{prefix}"
        credentials.mkdir()
        url = f"postgresql://ftpbridge:pg-secret@db.example/ftpbridge{prefix}"
        (credentials / f"{prefix}store-url").write_text(url + "\n", encoding="utf-8")
        (credentials / f"{prefix}acme-password").write_text("pw\n", encoding="utf-8")
        (credentials / f"{prefix}acme-private-key").write_text("KEY", encoding="utf-8")
        (credentials / f"{prefix}acme-private-key-passphrase").write_text("pp", encoding="utf-8")
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
        settings = build_settings({"partners": {"acme": {"transport": "sftp", "host": "h"}}})
        acme = settings.partners["acme"]
        assert settings.store_url == url
        assert acme.secret_password() == "pw"
        assert acme.key_file() == credentials / f"{prefix}acme-private-key"
        assert acme.secret_passphrase() == "pp"
        (credentials / f"{prefix}webhook-secret").write_text("whsec\n", encoding="utf-8")
        (credentials / f"{prefix}smtp-password").write_text("smtp\n", encoding="utf-8")
        assert settings.notify.secret_webhook_key() == "whsec"
        assert settings.notify.email.secret_password() == "smtp"
        configured = build_settings(
            {
                "store": {"url": "sqlite:////var/x.db"},
                "partners": {"acme": {"private_key": "/keys/acme", "password": "cfg"}},
            }
        )
        assert configured.store_url == "sqlite:////var/x.db"
        assert configured.partners["acme"].key_file() == Path("/keys/acme")
        assert configured.partners["acme"].secret_password() == "cfg"


def test_no_credential_means_the_defaults(tmp_path: Path, monkeypatch) -> None:
    """Without systemd (no $CREDENTIALS_DIRECTORY) or without the file: SQLite in the state
    directory and no key."""
    settings = build_settings({"daemon": {"state_dir": str(tmp_path)}, "partners": {"a": {}}})
    assert settings.store_url == f"sqlite:///{tmp_path / 'ftpbridge.db'}"
    assert settings.partners["a"].key_file() is None
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert settings.partners["a"].key_file() is None
