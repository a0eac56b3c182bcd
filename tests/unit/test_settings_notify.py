"""``[notify]`` and ``[notify.email]``: the webhook's secret from every place a password can
come from, durations, addresses, and the checks that name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftpbridge.errors import ConfigError
from ftpbridge.settings import build_settings, load_settings

SECRET = "whsec-0123456789abcdef0123456789abcdef"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_send_nothing() -> None:
    """No [notify]: nothing is configured, partners do not e-mail their customers."""
    settings = build_settings({"partners": {"acme": {}}})
    assert not settings.notify.enabled
    assert settings.notify.webhook_url is None
    assert settings.notify.batch_size == 100 and settings.notify.timeout == 10
    assert settings.notify.give_up_after == 48 * 3600
    assert settings.partners["acme"].notify_customers is False


def test_the_webhook_secret_comes_from_the_file_env_or_systemd(tmp_path: Path, monkeypatch) -> None:
    """The secret: in the config, in ``webhook_secret_file`` (next to the config), in
    ``FTPBRIDGE_NOTIFY__WEBHOOK_SECRET``, or the systemd credential ``webhook-secret``;
    never in the settings' repr."""
    inline = load_settings(write(tmp_path, f'[notify]\nwebhook_secret = "{SECRET}"\n'))
    assert inline.notify.secret_webhook_key() == SECRET
    assert SECRET not in repr(inline) and SECRET not in str(inline.notify)
    (tmp_path / "hook.secret").write_text(SECRET + "\n", encoding="utf-8")
    from_file = load_settings(write(tmp_path, '[notify]\nwebhook_secret_file = "hook.secret"\n'))
    assert from_file.notify.secret_webhook_key() == SECRET
    monkeypatch.setenv("FTPBRIDGE_NOTIFY__WEBHOOK_SECRET", "from-env-0123456789")
    assert load_settings(write(tmp_path, "")).notify.secret_webhook_key() == "from-env-0123456789"
    monkeypatch.delenv("FTPBRIDGE_NOTIFY__WEBHOOK_SECRET")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "webhook-secret").write_text("from-systemd\n", encoding="utf-8")
    (credentials / "smtp-password").write_text("smtp-from-systemd\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    systemd = load_settings(write(tmp_path, ""))
    assert systemd.notify.secret_webhook_key() == "from-systemd"
    assert systemd.notify.email.secret_password() == "smtp-from-systemd"


def test_a_missing_secret_file_is_named(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, '[notify]\nwebhook_secret_file = "nope.secret"\n'))
    with pytest.raises(ConfigError, match=r"nope\.secret does not exist"):
        settings.notify.secret_webhook_key()


def test_durations_and_ports() -> None:
    """give_up_after takes seconds or "48h"/"90m"/"2d"; the SMTP port follows tls/starttls."""
    for text, seconds in (("48h", 172800), ("90m", 5400), ("2d", 172800), (600, 600)):
        assert build_settings({"notify": {"give_up_after": text}}).notify.give_up_after == seconds
    email = {"host": "mail.example.com", "from": "Shop <shop@example.com>"}
    assert build_settings({"notify": {"email": email}}).notify.email.effective_port == 587
    smtps = build_settings({"notify": {"email": {**email, "tls": True}}}).notify.email
    assert (smtps.effective_port, smtps.uses_starttls) == (465, False)
    plain = build_settings({"notify": {"email": {**email, "starttls": False}}}).notify.email
    assert plain.effective_port == 25


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"notify": {"webhook_url": "ftp://shop"}}, "notify.webhook_url: 'ftp://shop' is not an"),
        ({"notify": {"give_up_after": "soon"}}, "notify.give_up_after: 'soon' is not a duration"),
        ({"notify": {"batch_size": 0}}, "notify.batch_size"),
        ({"notify": {"email": {"host": "m"}}}, "set 'from' too"),
        ({"notify": {"email": {"host": "m", "from": "not-an-address"}}}, "is not an e-mail"),
        ({"notify": {"email": {"host": "m", "from": "a@b.c\r\nBcc: x@y.z"}}}, "one line"),
        ({"notify": {"email": {"tls": True, "starttls": True}}}, "not both"),
        ({"notify": {"webhook_secret": "a", "webhook_secret_file": "b"}}, "not both"),
        ({"partners": {"acme": {"notify_customers": True}}}, "needs [notify.email] host"),
        ({"notify": {"email": {"hots": "m"}}}, "notify.email.hots: unknown key"),
    ],
)
def test_mistakes_name_their_key(data: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build_settings(data)
    assert fragment in raised.value.message


def test_config_example_loads_and_names_every_notify_key() -> None:
    """config.example.toml is valid and mentions every key of [notify], [notify.email]
    and the partner's notify_customers (commented out or set)."""
    from ftpbridge.settings import EmailSettings, NotifySettings

    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    settings = load_settings(example)
    assert settings.notify.give_up_after == 48 * 3600
    text = example.read_text(encoding="utf-8")
    notify_part = text[text.index("[notify]") : text.index("[partners.acme]")]
    for model in (NotifySettings, EmailSettings):
        for name, field in model.model_fields.items():
            if name == "email":
                continue
            key = field.alias or name
            assert f"\n{key} = " in notify_part or f"\n# {key} = " in notify_part, key
    assert "\nnotify_customers = false" in text


def test_a_readable_config_holding_a_notify_secret_gets_the_warning(tmp_path: Path) -> None:
    """A config file others may read that holds [notify] webhook_secret, [notify.email]
    password or a webhook URL with a password or token: the warning names each key, never
    its value; the same file not readable by others, or without them, gets none."""
    from structlog.testing import capture_logs

    config = write(
        tmp_path,
        f'[notify]\nwebhook_url = "https://u:tok3npw@hooks.example/h?token=abc123"\n'
        f'webhook_secret = "{SECRET}"\n'
        '[notify.email]\nhost = "smtp.example"\nfrom = "shop@example.com"\n'
        'password = "smtp-pw-2"\n',
    )
    config.chmod(0o644)
    with capture_logs() as logs:
        load_settings(config)
    warnings = [entry for entry in logs if "anyone on this machine" in entry["event"]]
    assert len(warnings) == 1
    assert warnings[0]["keys"] == [
        "[notify] webhook_url",
        "[notify] webhook_secret",
        "[notify.email] password",
    ]
    assert not any(
        secret in str(entry) for entry in logs for secret in (SECRET, "smtp-pw-2", "tok3npw")
    )
    config.chmod(0o640)
    with capture_logs() as private:
        load_settings(config)
    assert not [entry for entry in private if "anyone on this machine" in entry["event"]]
    config.chmod(0o644)
    write(tmp_path, '[notify]\nwebhook_url = "https://hooks.example/h?page=1"\n')
    with capture_logs() as plain:
        load_settings(config)
    assert not [entry for entry in plain if "anyone on this machine" in entry["event"]]
