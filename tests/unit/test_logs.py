"""ftpbridge.logs: one configuration, redaction, JSON/console output, journald priorities."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from structlog.contextvars import bound_contextvars, merge_contextvars
from structlog.testing import capture_logs

from ftpbridge.logs import MASK, configure_logging, redact_event, redact_text, redact_url
from tests.terminal import read_all

PASSWORD = "hunter2-Xq9"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo configure_logging() so each test starts from the defaults."""
    root = logging.getLogger()
    saved_handlers = list(root.handlers)
    saved_levels = {
        name: logging.getLogger(name).level for name in ("", "paramiko.transport", "apscheduler")
    }
    yield
    for handler in [h for h in root.handlers if h not in saved_handlers]:
        root.removeHandler(handler)
        handler.close()
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(False)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _connect(url: str) -> None:
    password = PASSWORD  # a local that a locals-dumping traceback would print
    msg = f"login refused by {url}; tried password={password}"
    raise ConnectionError(msg)


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line]


# --- redaction as a processor (capture_logs) ---------------------------------------------


def test_capture_logs_sees_sensitive_keys_masked_and_urls_redacted() -> None:
    """Keys naming a password/secret/token/credential/private key are masked; URLs lose pw."""
    log = structlog.get_logger()
    with capture_logs(processors=[redact_event]) as logs:
        log.info(
            "connecting to postgresql://app:s3cret@db.internal/orders",
            password=PASSWORD,
            FTP_Passphrase="pp",
            api_token="tok",
            client_secret="cs",
            credentials={"user": "bob"},
            ssh_private_key="-----BEGIN OPENSSH PRIVATE KEY-----",
            host="ftp.acme.example",
        )
    (event,) = logs
    assert event["event"] == "connecting to postgresql://app:***@db.internal/orders"
    for key in ("password", "FTP_Passphrase", "api_token", "client_secret", "credentials"):
        assert event[key] == MASK, key
    assert event["ssh_private_key"] == MASK
    assert event["host"] == "ftp.acme.example"


def test_capture_logs_redacts_nested_values_and_secretstr() -> None:
    """Nested dicts and lists are redacted too, and SecretStr becomes the plain mask."""
    log = structlog.get_logger()
    with capture_logs(processors=[redact_event]) as logs:
        log.info(
            "partner loaded",
            partner={"name": "acme", "transport": {"password": PASSWORD, "port": 21}},
            urls=["ftp://u:p4ss@ftp.acme.example/in", "sftp://u@host/out"],
            store_password=SecretStr(PASSWORD),
            has_password=True,
        )
    (event,) = logs
    assert event["partner"] == {"name": "acme", "transport": {"password": MASK, "port": 21}}
    assert event["urls"] == ["ftp://u:***@ftp.acme.example/in", "sftp://u@host/out"]
    assert event["store_password"] == MASK
    assert event["has_password"] is True  # a flag is no secret, and worth seeing


def test_capture_logs_with_contextvars_shows_partner_job_and_file() -> None:
    """Values bound with bound_contextvars appear on events and vanish after the block."""
    log = structlog.get_logger()
    with capture_logs(processors=[merge_contextvars]) as logs:
        with bound_contextvars(partner="acme", job="poll", file="ship_0001.csv"):
            log.info("file imported", rows=3)
        log.info("cycle done")
    assert logs[0]["partner"] == "acme"
    assert logs[0]["job"] == "poll"
    assert logs[0]["file"] == "ship_0001.csv"
    assert "partner" not in logs[1]


# --- redact_url / redact_text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://user:pw@host/db", "postgresql://user:***@host/db"),
        (
            "postgresql+psycopg://app:s3@db:5432/orders",
            "postgresql+psycopg://app:***@db:5432/orders",
        ),
        ("ftp://u:p@h", "ftp://u:***@h"),
        ("sftp://u:p@ss/w@rd@h:22/in", "sftp://u:***@h:22/in"),
        ("ftp://anonymous@h/pub", "ftp://anonymous@h/pub"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("sqlite:////var/lib/ftpbridge/store.db", "sqlite:////var/lib/ftpbridge/store.db"),
        ("store is postgresql://a:b@h/d, fine", "store is postgresql://a:***@h/d, fine"),
    ],
)
def test_redact_url_hides_only_the_password(url: str, expected: str) -> None:
    """redact_url replaces the password of user:password@ and leaves everything else."""
    assert redact_url(url) == expected


@given(
    user=st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12),
    password=st.text(
        st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters="'\"<>"),
        min_size=1,
        max_size=24,
    ),
)
def test_redact_url_never_lets_a_password_through(user: str, password: str) -> None:
    """Whatever the password holds (@, /, :, unicode), the result is user:***@host."""
    url = f"postgresql://{user}:{password}@db.internal/orders"
    assert redact_url(url) == f"postgresql://{user}:***@db.internal/orders"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://bob:pw@db.example/db?password=zzz9",
            "postgresql://bob:***@db.example/db?password=***",
        ),
        (
            "https://u:tok3npw@host/h?token=abc123&x=1",
            "https://u:***@host/h?token=***&x=1",
        ),
        (
            "postgresql://db/x?sslmode=require&sslpassword=S;passwd=P&PWD=Q",
            "postgresql://db/x?sslmode=require&sslpassword=***;passwd=***&PWD=***",
        ),
        (
            "https://hooks.example/in?api_key=K&access_token=T&sig=Z#part",
            "https://hooks.example/in?api_key=***&access_token=***&sig=***#part",
        ),
        ("https://h/x?page=2&sort=name", "https://h/x?page=2&sort=name"),
        ("the hook https://h/?secret=s1 said no", "the hook https://h/?secret=*** said no"),
    ],
)
def test_redact_url_hides_secret_query_parameters(url: str, expected: str) -> None:
    """A query parameter named like a secret (password, sslpassword, passwd, token, key,
    sig, secret) is masked, in a URL alone or in text; other parameters stay."""
    assert redact_url(url) == expected
    assert redact_text(url) == expected


def test_redact_text_masks_key_value_pairs_in_free_text() -> None:
    """libpq-style and query-string secrets inside a message are masked."""
    text = "dsn host=db password=pw1 user=app; url ?token=abc&x=1 passphrase=pp"
    assert (
        redact_text(text) == "dsn host=db password=*** user=app; url ?token=***&x=1 passphrase=***"
    )


# --- rendered output (capsys) ------------------------------------------------------------


def test_json_output_is_one_valid_object_per_line_without_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """JSON mode writes parseable lines to stderr with level, logger, ISO UTC timestamp."""
    configure_logging(json=True)
    log = structlog.get_logger("ftpbridge.exchange.poll")
    with bound_contextvars(partner="acme", job="export", file="orders_0001.csv"):
        log.info(f"uploading to ftp://acme:{PASSWORD}@ftp.acme.example/in", password=PASSWORD)
        log.warning("slow server", seconds=12.5)
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout is for the CLI's own output
    assert PASSWORD not in captured.err
    first, second = _json_lines(captured.err)
    assert first["event"] == "uploading to ftp://acme:***@ftp.acme.example/in"
    assert first["password"] == MASK
    assert first["level"] == "info"
    assert first["logger"] == "ftpbridge.exchange.poll"
    assert (first["partner"], first["job"], first["file"]) == ("acme", "export", "orders_0001.csv")
    timestamp = str(first["timestamp"])
    assert timestamp.endswith("Z")
    assert "T" in timestamp
    assert second["level"] == "warning"
    assert second["seconds"] == 12.5


def test_json_exception_has_no_locals_and_redacted_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """log.exception renders a dict traceback without frame locals; its text is redacted."""
    configure_logging(json=True)
    log = structlog.get_logger()
    try:
        _connect(f"ftp://acme:{PASSWORD}@ftp.acme.example")
    except ConnectionError:
        log.exception("upload failed")
    err = capsys.readouterr().err
    assert PASSWORD not in err
    (event,) = _json_lines(err)
    assert event["level"] == "error"
    (exception,) = event["exception"]
    assert exception["exc_type"] == "ConnectionError"
    assert exception["exc_value"] == (
        "login refused by ftp://acme:***@ftp.acme.example; tried password=***"
    )
    assert [frame["name"] for frame in exception["frames"]][-1] == "_connect"
    assert all("locals" not in frame for frame in exception["frames"])


def test_console_output_is_plain_key_value_on_a_non_tty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """json=False writes readable key=value lines, without colour codes off a terminal."""
    configure_logging(json=False)
    log = structlog.get_logger("ftpbridge.cli")
    with bound_contextvars(partner="acme"):
        log.info("imported", rows=3, token=PASSWORD)
    err = capsys.readouterr().err
    assert "imported" in err
    assert "partner=acme" in err
    assert "rows=3" in err
    assert f"token={MASK}" in err
    assert PASSWORD not in err
    assert "\x1b[" not in err


def test_console_exception_is_a_plain_traceback_without_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In console mode a traceback is printed, redacted, with no locals."""
    configure_logging(json=False)
    try:
        _connect(f"postgresql://app:{PASSWORD}@db/orders")
    except ConnectionError:
        structlog.get_logger().exception("store unavailable")
    err = capsys.readouterr().err
    assert "Traceback (most recent call last):" in err
    assert "ConnectionError: login refused by postgresql://app:***@db/orders" in err
    assert PASSWORD not in err


def test_auto_mode_is_json_off_a_terminal_and_console_on_a_terminal() -> None:
    """json=None picks JSON for a pipe or file, and coloured key=value for a real tty."""
    buffer = io.StringIO()
    configure_logging(stream=buffer)
    structlog.get_logger().info("to a file", n=1)
    assert json.loads(buffer.getvalue())["n"] == 1

    main_fd, terminal_fd = os.openpty()
    with open(terminal_fd, "w", encoding="utf-8", closefd=True) as terminal:
        configure_logging(stream=terminal)
        structlog.get_logger().info("to a terminal", n=2)
        terminal.flush()
    shown = read_all(main_fd)  # every piece, once the terminal's writer has closed it
    os.close(main_fd)
    assert "to a terminal" in shown
    assert "\x1b[" in shown  # colours on a tty
    assert not shown.lstrip().startswith("{")


def test_stdlib_records_come_out_formatted_and_chatty_libraries_are_quiet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """paramiko/apscheduler INFO is dropped, their warnings and other stdlib logs are JSON."""
    configure_logging(json=True)
    with bound_contextvars(partner="acme"):
        logging.getLogger("paramiko.transport").info("Connected (version 2.0)")
        logging.getLogger("apscheduler.scheduler").info("Added job")
        logging.getLogger("paramiko.transport").warning("Oops, unhandled type %d", 3)
        logging.getLogger("sqlalchemy.engine").error(
            "cannot connect to %s", f"postgresql://app:{PASSWORD}@db/orders"
        )
    err = capsys.readouterr().err
    assert PASSWORD not in err
    paramiko_warning, sqlalchemy_error = _json_lines(err)
    assert paramiko_warning["logger"] == "paramiko.transport"
    assert paramiko_warning["event"] == "Oops, unhandled type 3"
    assert paramiko_warning["level"] == "warning"
    assert paramiko_warning["partner"] == "acme"
    assert str(paramiko_warning["timestamp"]).endswith("Z")
    assert sqlalchemy_error["event"] == "cannot connect to postgresql://app:***@db/orders"


def test_stdlib_exception_is_formatted_once_and_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A stdlib logger.exception gets the same dict traceback, not a second raw one."""
    configure_logging(json=True)
    try:
        _connect(f"ftp://u:{PASSWORD}@h")
    except ConnectionError:
        logging.getLogger("apscheduler.executors").exception("Job raised an exception")
    err = capsys.readouterr().err
    assert PASSWORD not in err
    (event,) = _json_lines(err)  # one line: the traceback is inside it
    assert event["exception"][0]["exc_type"] == "ConnectionError"


def test_level_filters_structlog_events() -> None:
    """level='warning' drops info events; an unknown level name is refused."""
    buffer = io.StringIO()
    configure_logging(json=True, level="warning", stream=buffer)
    log = structlog.get_logger()
    log.info("hidden")
    log.warning("shown")
    assert [event["event"] for event in _json_lines(buffer.getvalue())] == ["shown"]
    with pytest.raises(ValueError, match="unknown log level 'chatty'"):
        configure_logging(level="chatty")


def test_configure_twice_keeps_one_handler_and_one_line_per_event() -> None:
    """Calling configure_logging again replaces its handler instead of adding one."""
    first, second = io.StringIO(), io.StringIO()
    configure_logging(json=True, stream=first)
    configure_logging(json=True, stream=second)
    structlog.get_logger().info("once")
    logging.getLogger("alembic.runtime.migration").warning("Will assume transactional DDL.")
    assert first.getvalue() == ""
    assert [event["event"] for event in _json_lines(second.getvalue())] == [
        "once",
        "Will assume transactional DDL.",
    ]
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_ftpbridge_handler", False)]
    assert len(ours) == 1


def test_journald_stream_gets_syslog_priority_prefixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the stream is $JOURNAL_STREAM's dev:ino, lines start with <3>, <4>, <6>, <7>."""
    with open(tmp_path / "journal", "w+", encoding="utf-8") as journal:
        stat = os.fstat(journal.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
        configure_logging(level="debug", stream=journal)
        log = structlog.get_logger()
        log.debug("d")
        log.info("i", password=PASSWORD)
        log.warning("w")
        log.error("e")
        logging.getLogger("paramiko.transport").error("stdlib e")
        journal.seek(0)
        lines = journal.read().splitlines()
    assert [line[:3] for line in lines] == ["<7>", "<6>", "<4>", "<3>", "<3>"]
    events = [json.loads(line[3:]) for line in lines]  # JSON after the prefix
    assert [event["event"] for event in events] == ["d", "i", "w", "e", "stdlib e"]
    assert PASSWORD not in "".join(lines)


def test_inherited_journal_stream_of_another_fd_adds_no_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$JOURNAL_STREAM naming another file (output redirected) leaves lines as pure JSON."""
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    with open(tmp_path / "redirected.log", "w+", encoding="utf-8") as redirected:
        configure_logging(stream=redirected)
        structlog.get_logger().warning("w")
        redirected.seek(0)
        line = redirected.read().strip()
    assert json.loads(line)["event"] == "w"


def test_other_stdlib_handlers_never_see_a_raw_secret_from_structlog(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A structlog event reaches any other handler already redacted, with no live exc_info."""
    configure_logging(json=True, stream=io.StringIO())
    try:
        _connect(f"ftp://u:{PASSWORD}@h")
    except ConnectionError:
        structlog.get_logger("ftpbridge.exchange.poll").exception(
            "upload failed", password=PASSWORD
        )
    (record,) = [r for r in caplog.records if r.name == "ftpbridge.exchange.poll"]
    assert record.exc_info is None
    assert record.levelno == logging.ERROR
    assert PASSWORD not in caplog.text
    assert "ftp://u:***@h" in caplog.text


# --- issue 11 item 21: readable lines for people, JSON for the service ------------------


def test_commands_for_people_log_readable_lines_even_on_a_pipe(tmp_path: Path) -> None:
    """A short command (for_people) on a pipe or file (cron mail, | less): readable
    key=value lines without colour codes, not JSON."""
    stream = (tmp_path / "log").open("w+", encoding="utf-8")
    configure_logging(level="info", stream=stream, journald=False, for_people=True)
    structlog.get_logger("t").warning("export uploaded", items=3, partner="acme")
    stream.flush()
    text = (tmp_path / "log").read_text(encoding="utf-8")
    assert "export uploaded" in text and "items=3" in text and "partner=acme" in text
    assert "\x1b[" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])
    stream.close()


def test_the_service_logs_json_off_a_terminal_and_people_get_json_in_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run/serve (not for_people) on a file: JSON lines; a command for people writing to
    the journal (JOURNAL_STREAM names its stream): JSON with journald's priority prefix."""
    path = tmp_path / "log"
    with path.open("w+", encoding="utf-8") as stream:
        configure_logging(level="info", stream=stream, journald=False)
        structlog.get_logger("t").info("ftpbridge running", partners=["acme"])
    assert _json_lines(path.read_text())[0]["event"] == "ftpbridge running"
    journal = tmp_path / "journal"
    with journal.open("w+", encoding="utf-8") as stream:
        stat = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
        configure_logging(level="info", stream=stream, for_people=True)
        structlog.get_logger("t").warning("poll failed", partner="acme")
    line = journal.read_text().splitlines()[0]
    assert line.startswith("<4>{")
    assert json.loads(line[3:])["event"] == "poll failed"


@given(
    st.lists(
        st.sampled_from(
            [
                "postgresql://app:pw@db/x",
                "password=hunter2",
                "token=abc&x=1",
                "://",
                "@",
                "=",
                "user:pw@host",
                " ",
                "a",
                "é",
                "PASSWORD=***",
            ]
        ),
        max_size=6,
    ).map("".join)
)
def test_redact_text_skips_only_text_that_cannot_match(text: str) -> None:
    """The "@"/"://" and "=" checks that let most values skip the regexes change nothing:
    the answer is the regexes' own."""
    from ftpbridge.logs import _SECRET_PAIR, _URL_USERINFO

    expected = _SECRET_PAIR.sub(r"\g<key>=***", _URL_USERINFO.sub(r"\g<prefix>:***@", text))
    assert redact_text(text) == expected
