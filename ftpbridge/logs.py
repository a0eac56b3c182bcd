"""The one structlog configuration of ftpbridge, and the redaction every log line goes through.

``configure_logging()`` is called once by each edge (``cli``, ``daemon``); every other module
only does ``log = structlog.get_logger(__name__)``. Both structlog events and stdlib records
(paramiko, APScheduler, SQLAlchemy, Alembic) go through one stdlib handler whose
``structlog.stdlib.ProcessorFormatter`` formats exceptions, redacts and renders them, so every
line looks the same and nothing reaches the stream unredacted. structlog events are formatted
and redacted before they leave structlog, so another stdlib handler (pytest's log capture)
sees them redacted too; a library's own stdlib record is redacted only by our handler.

Output:

* JSON lines when the log stream is not a terminal (journald, a file, a pipe) or ``json=True``;
  readable ``key=value`` lines (colours only on a terminal) otherwise. The short commands
  people run (everything but ``run`` and ``serve``) pass ``for_people=True``: readable lines
  on a pipe too (cron mail, ``| less``), JSON only into the journal.
* On ``stderr`` by default, because CLI commands print their human output on stdout; the daemon
  passes ``stream=sys.stdout``.
* When the stream is the journald stream systemd connected us to (``$JOURNAL_STREAM``), each
  line starts with a ``<N>`` syslog priority prefix so ``journalctl -p warning`` works.
* Exceptions without local variables: locals of a connect function hold passwords.

Redaction (``redact_event``): values of keys whose name contains password, passphrase, secret,
token, credential or private_key; ``user:password@`` in URLs, a URL's query parameters named
like a secret (``?token=``, ``?api_key=``, ``?sslpassword=``) and ``password=...`` pairs inside
any string (messages and exception text included); pydantic secret values.

Escaping (``shown``, the same processor): control characters, bidi overrides and zero-width
characters, and bytes that were not text, are written as escapes in every log line (and in
what the CLI prints), so that a name like ``x_updated_\u202evsc.exe`` cannot pass for
``..exe.csv`` on a terminal, nor a name holding ESC sequences rewrite it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import unicodedata
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from pydantic import SecretBytes, SecretStr
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "MASK",
    "QUIET_LOGGERS",
    "configure_logging",
    "redact_event",
    "redact_text",
    "redact_url",
    "shown",
]

MASK = "**********"

# Libraries that are chatty at INFO; their warnings and errors still come through.
QUIET_LOGGERS: Mapping[str, str] = {
    "paramiko.transport": "WARNING",
    "apscheduler": "WARNING",
    "alembic": "WARNING",
}

_SENSITIVE_NAME = re.compile(
    r"password|passphrase|passwd|secret|token|credential|private_key|privatekey", re.IGNORECASE
)

# scheme://user:password@ -- the password runs to the last "@" of the token, so an unescaped
# "@" or "/" inside it is still hidden (over-redacting a path is the safe mistake).
_URL_USERINFO = re.compile(
    r"(?P<prefix>\b[a-zA-Z][a-zA-Z0-9+.-]*://(?P<user>[^\s:/@'\"<>]*)):(?P<password>[^\s'\"<>]*)@"
)

# A URL in any text, and a query parameter of one whose name looks secret: inside a URL the
# names are wider than _SECRET_PAIR's (key, sig, auth: webhooks and signed links carry
# their tokens so; masking a harmless one is the safe mistake).
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]*")
_QUERY_SECRET = re.compile(
    r"(?P<lead>[?&;][^\s=&;#]*(?:pass|pwd|secret|token|key|sig|auth|credential|session)"
    r"[^\s=&;#]*=)(?!\*{3}(?:[&;#]|$))[^&;#]+",
    re.IGNORECASE,
)

# password=hunter2, ?token=abc&..., libpq "host=db password=pw" (but not password=*** again).
_SECRET_PAIR = re.compile(
    r"(?P<key>\b[\w.-]*(?:password|passphrase|passwd|secret|token|private_key)[\w.-]*)"
    r"=(?P<value>(?!\*{3})[^\s&;,'\"]+)",
    re.IGNORECASE,
)

# journald reads a "<N>" prefix as the syslog priority of the line (sd-daemon(3)).
_JOURNALD_PRIORITY = {
    "critical": 2,
    "exception": 3,
    "error": 3,
    "warning": 4,
    "warn": 4,
    "info": 6,
    "debug": 7,
}

_HANDLER_MARK = "_ftpbridge_handler"


# Unicode categories that print as nothing or change what is around them: controls (Cc),
# formats (Cf: bidi overrides and isolates, zero-width space and joiners, BOM), line and
# paragraph separators, and lone surrogates (bytes that were not UTF-8, surrogateescape).
_UNSHOWN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# Log values that are tracebacks: their line breaks are theirs.
_MULTILINE_KEYS = frozenset({"exception", "stack"})


def shown(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` safe to print on a terminal or in a log: every character of the
    categories above written as an escape (``\u202e``, ``\x1b``, ``\n``; a byte that was
    not text as ``\xff``), everything else as it is. ``keep_newlines``: line feeds stay
    (a multi-line message of ours). The one helper for every remote name printed."""
    if text.isprintable() or not any(
        unicodedata.category(character) in _UNSHOWN for character in text
    ):
        return text
    out = []
    for character in text:
        if unicodedata.category(character) not in _UNSHOWN or (keep_newlines and character == "\n"):
            out.append(character)
        elif 0xDC80 <= ord(character) <= 0xDCFF:  # surrogateescape of one byte
            out.append(f"\\x{ord(character) - 0xDC00:02x}")
        elif ord(character) < 0x100:
            out.append(repr(character)[1:-1])  # \n, \t, \x1b, \x85
        else:
            out.append(f"\\u{ord(character):04x}")
    return "".join(out)


def redact_url(url: str) -> str:
    """Return *url* with the password of its ``user:password@`` part, and the value of every
    query parameter whose name looks secret (password, passwd, pwd, passphrase, secret,
    token, key, sig, auth, credential, session: ``sslpassword``, ``api_key``,
    ``access_token`` too), replaced by ``***``.

    ``postgresql://app:pw@db/orders?password=pw`` becomes
    ``postgresql://app:***@db/orders?password=***``; a URL without either is returned
    unchanged. Safe to call on any text, not only on a bare URL: every URL in it is masked.
    """
    # Only text holding "://" and "@" or "?" can match: most log values are looked at once, in C.
    if "://" not in url:
        return url
    if "@" in url:
        url = _URL_USERINFO.sub(r"\g<prefix>:***@", url)
    if "?" in url:
        url = _URL.sub(_masked_query, url)
    return url


def _masked_query(match: re.Match[str]) -> str:
    url = match.group(0)
    return _QUERY_SECRET.sub(r"\g<lead>***", url) if "?" in url else url


def redact_text(text: str) -> str:
    """Return *text* with URL passwords and ``password=...``-style pairs masked."""
    text = redact_url(text)
    # Only text holding "=" can hold a pair (the regexes were a twelfth of an API request).
    return _SECRET_PAIR.sub(r"\g<key>=***", text) if "=" in text else text


def _redact_value(value: Any, *, multiline: bool = False) -> Any:
    if isinstance(value, str):
        return shown(redact_text(value), keep_newlines=multiline)
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, Mapping):
        return {key: _redact_item(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def _redact_item(key: object, value: Any) -> Any:
    # None and booleans carry no secret, and "password_set=True" is worth seeing.
    if isinstance(key, str) and _SENSITIVE_NAME.search(key) and not isinstance(value, bool | None):
        return MASK
    return _redact_value(value, multiline=key in _MULTILINE_KEYS)


def redact_event(_logger: WrappedLogger, _method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets in *event_dict*, nested values included, and
    escape what a terminal would not show as it is (``shown``).

    Runs after exception formatting so the traceback text is redacted too. ``exc_info`` is
    left alone: it is consumed by the exception formatter before this runs.
    """
    return {
        key: value if key == "exc_info" else _redact_item(key, value)
        for key, value in event_dict.items()
    }


class _PriorityPrefix:
    """Wrap a renderer so each line starts with journald's ``<N>`` priority prefix."""

    def __init__(self, renderer: Processor) -> None:
        self._renderer = renderer

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
        level = str(event_dict.get("level", method_name)).lower()
        priority = _JOURNALD_PRIORITY.get(level, 6)
        rendered = self._renderer(logger, method_name, event_dict)
        text = rendered.decode("utf-8") if isinstance(rendered, bytes) else str(rendered)
        return f"<{priority}>{text}"


class _BoundLogger(structlog.stdlib.BoundLogger):
    """stdlib BoundLogger whose ``exception()`` hands the stdlib no raw ``exc_info``.

    structlog's own calls ``logging.Logger.exception``, which attaches the live exception to
    the record: any other handler (pytest's log capture, a library's) would then print the
    unredacted traceback. Ours formats and redacts it in the processor chain instead.
    """

    def exception(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        kw.setdefault("exc_info", True)
        return self._proxy_to_logger("error", event, *args, **kw)


def _is_journald_stream(stream: TextIO) -> bool:
    """Tell whether *stream* is the journal connection named by ``$JOURNAL_STREAM``.

    systemd.exec(5): compare device and inode, because a child whose output was redirected
    still inherits the variable.
    """
    expected = os.environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return expected == f"{stat.st_dev}:{stat.st_ino}"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure_logging(
    *,
    json: bool | None = None,
    level: str = "info",
    stream: TextIO | None = None,
    journald: bool | None = None,
    quiet_loggers: Mapping[str, str] = QUIET_LOGGERS,
    for_people: bool = False,
) -> None:
    """Configure structlog and stdlib logging for the whole process.

    Given ``json`` (``None``: JSON unless *stream* is a terminal; with ``for_people``, JSON
    only into the journal), ``level`` (a stdlib level name, any case), ``stream``
    (``None``: ``sys.stderr`` at call time), ``journald`` (``None``: detect from
    ``$JOURNAL_STREAM``) and ``quiet_loggers`` (logger name -> minimum level). Calling it
    again replaces the previous configuration; it never adds a second handler. Raises
    ``ValueError`` for an unknown level name.
    """
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        msg = f"unknown log level {level!r}: use debug, info, warning, error or critical"
        raise ValueError(msg)
    if stream is None:
        stream = sys.stderr
    tty = _isatty(stream)
    if journald is None:
        journald = _is_journald_stream(stream)
    if json is None:
        json = journald if for_people else not tty

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    # Shared by structlog events and by stdlib records (the latter as foreign_pre_chain).
    pre_chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]

    renderer: Processor
    if json:
        exception_formatter: Processor = structlog.processors.ExceptionRenderer(
            ExceptionDictTransformer(show_locals=False)
        )
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    else:
        exception_formatter = structlog.processors.format_exc_info  # plain traceback, no locals
        renderer = structlog.dev.ConsoleRenderer(
            colors=tty, exception_formatter=structlog.dev.plain_traceback
        )
    if journald:
        renderer = _PriorityPrefix(renderer)

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # For stdlib records; a no-op on structlog events, already done in their chain.
            structlog.processors.StackInfoRenderer(),
            exception_formatter,
            redact_event,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric_level)
    for name, minimum in quiet_loggers.items():
        logging.getLogger(name).setLevel(max(numeric_level, logging.getLevelName(minimum.upper())))
    logging.captureWarnings(True)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *pre_chain,
            structlog.stdlib.PositionalArgumentsFormatter(),
            # Formatted and redacted before the event leaves structlog, so that any other
            # stdlib handler (pytest's log capture, a library's) never sees a raw secret.
            structlog.processors.StackInfoRenderer(),
            exception_formatter,
            redact_event,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=_BoundLogger,
        # Not cached: tests (ours and other modules') swap the configuration with
        # structlog.testing.capture_logs, and a cached logger would bypass that.
        cache_logger_on_first_use=False,
    )
