"""The ``ftpbridge`` group: global options, the context every command gets, and the
error handling that turns ftpbridge errors into ``Error:``/``Try:`` lines. No business logic.

Exit codes (``ftpbridge.errors``, the README's exit-code paragraph): 0 all good, nothing to
do, or already done; 1 some rows or files rejected (``status``: a partner alerting or stale);
2 usage/config error or a file rejected as a whole; 3 a server or the store could not be
used; 70 internal error (a bug: the message asks for a report); 130 interrupted (Ctrl+C).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click

from ftpbridge import __version__
from ftpbridge.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, FtpbridgeError
from ftpbridge.settings import PartnerSettings, Settings, load_settings

P = ParamSpec("P")
R = TypeVar("R")


class Context:
    """What every command gets: the --config value, and settings/store built on demand."""

    def __init__(self, config: str | None, log_level: str, debug: bool) -> None:
        self.config = config
        self.log_level = log_level
        self.debug = debug
        self._settings: Settings | None = None
        self._store: Any = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def store(self) -> Any:
        if self._store is None:
            from ftpbridge.store import open_store

            if self.settings.config_path is None:
                click.echo(
                    "Note: no config file (./config.toml, --config or $FTPBRIDGE_CONFIG);"
                    f" using the default store in {self.settings.state_dir}",
                    err=True,
                )
            self._store = open_store(self.settings.store_url)
        return self._store

    def partner(self, name: str) -> PartnerSettings:
        return self.settings.partner(name)


def friendly_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn ftpbridge errors into ``Error:``/``Try:`` lines and their exit code."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        context = click.get_current_context()
        state: Context | None = context.find_object(Context)
        try:
            return function(*args, **kwargs)
        except FtpbridgeError as exc:
            # Every line goes through the one redaction (logs.redact_text): a message may
            # quote a store URL with its password, or a server's answer.
            click.echo(f"Error: {_redacted(exc.message)}", err=True)
            if exc.hint:
                click.echo(f"Try: {_redacted(exc.hint)}", err=True)
            if state is not None and state.debug:
                _print_traceback()
            context.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader went away (e.g. "| head"): not an error of ours.
            sys.stderr.close()
            context.exit(EXIT_OK)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            context.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001  (the last resort: one line, exit 70)
            if state is not None and state.debug:
                _print_traceback()
            click.echo(
                f"Internal error: {type(exc).__name__}: {_redacted(_first_line(exc))}",
                err=True,
            )
            click.echo(
                "Try: run the same command with --debug for the details, and report it",
                err=True,
            )
            context.exit(EXIT_INTERNAL)

    return wrapper


def _print_traceback() -> None:
    """``--debug``: the traceback of the exception being handled, redacted like a log line
    (Python's own printing would show a URL's password, or one in an exception's text)."""
    import traceback

    click.echo(_redacted(traceback.format_exc()).rstrip("\n"), err=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""


def _redacted(text: str) -> str:
    """What a message may show: secrets masked, and characters a terminal would not show
    as they are (a partner's file name holding a bidi override) escaped."""
    from ftpbridge.logs import redact_text, shown

    return shown(redact_text(text), keep_newlines=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftpbridge")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $FTPBRIDGE_CONFIG, else ./config.toml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Log level for this command (the daemon uses [daemon] log_level).",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks (for reporting bugs).")
@click.pass_context
def main(context: click.Context, config: str | None, log_level: str, debug: bool) -> None:
    """Exchange orders and shipment confirmations with fulfillers as CSV over FTP/FTPS/SFTP."""
    from ftpbridge.logs import configure_logging

    configure_logging(level="debug" if debug else log_level)
    context.obj = Context(config, log_level, debug)


pass_state = click.make_pass_decorator(Context)
