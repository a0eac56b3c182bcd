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
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import click

from ftpbridge import __version__
from ftpbridge.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    FtpbridgeError,
    StoreError,
)
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

    @property
    def existing_store(self) -> Any:
        """The store for a command that only looks (``status``, ``orders list``,
        ``api-key list``, ``notify list``, an ``export`` or ``import`` with ``--dry-run``)
        or changes only what is there (``orders set-status``, ``orders unship``, ``api-key
        revoke``, ``notify retry``): never created. An SQLite store that does not exist is an error
        saying where it was looked for and how to point at the right one; creating an
        empty one there would answer with nothing, as if nothing had ever run."""
        if self._store is None:
            from ftpbridge.store.engine import sqlite_file

            database = sqlite_file(self.settings.store_url)
            if database is not None and not database.exists():
                raise StoreError(
                    f"there is no store at {database}: nothing has run with"
                    f" {self.settings.config_path or 'this configuration (no config file)'}"
                    " yet, so there is nothing to show",
                    hint="use the config the service runs with (ftpbridge --config"
                    " /etc/ftpbridge/config.toml ...; it sets [daemon] state_dir ="
                    ' "/var/lib/ftpbridge"), or set [daemon] state_dir or [store] url to'
                    " where the store is",
                )
        return self.store

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
            click.echo(f"Try: {_redacted(exc.hint or _generic_hint(exc, context))}", err=True)
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


def _generic_hint(exc: FtpbridgeError, context: click.Context) -> str:
    """A Try: line for an error raised without a hint of its own: every error has one."""
    from ftpbridge.errors import ConfigError, InputFileError, StoreError, TransportError

    if isinstance(exc, ConfigError):
        return "compare the config with config.example.toml (ftpbridge config example)"
    if isinstance(exc, InputFileError):
        return "check the file's path and that it is the file you meant"
    if isinstance(exc, StoreError):
        return "check [store] url, and that the database is running and reachable"
    if isinstance(exc, TransportError):
        return "ftpbridge check --partner NAME tests the connection step by step"
    return f"{context.command_path} --help"


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


GLOBAL_OPTIONS_NOTE = (
    "Global options (--config, --log-level, --debug) may come before or after the command:"
    " 'ftpbridge --config PATH run' and 'ftpbridge run --config PATH' are the same."
)
_CONFIG_HELP = "Config file (default: $FTPBRIDGE_CONFIG, else ./config.toml)."
_LOG_LEVELS = ["debug", "info", "warning", "error"]
_LOG_LEVEL_HELP = "Log level for this command (the daemon uses [daemon] log_level)."
_DEBUG_HELP = "Show full tracebacks (for reporting bugs)."


def _lifted(context: click.Context, parameter: click.Parameter, value: Any) -> None:
    """A global option given after the command: it updates what the group was given.

    Only a value actually given counts (an option left out after the command never undoes
    the same option given before it); the log configuration follows the new values.
    """
    source = context.get_parameter_source(parameter.name or "")
    if source is not click.core.ParameterSource.COMMANDLINE:
        return
    state = context.find_object(Context)
    if state is None:  # pragma: no cover - the group always makes one
        return
    if parameter.name == "config":
        state.config = value
        return
    if parameter.name == "log_level":
        state.log_level = value
    elif parameter.name == "debug":
        state.debug = state.debug or bool(value)
    from ftpbridge.logs import configure_logging

    configure_logging(level="debug" if state.debug else state.log_level, for_people=True)


def _global_options() -> list[click.Parameter]:
    """The global options as every command accepts them after its name."""
    return [
        click.Option(
            ["--config"],
            type=click.Path(dir_okay=False),
            default=None,
            expose_value=False,
            callback=_lifted,
            help=_CONFIG_HELP,
        ),
        click.Option(
            ["--log-level"],
            type=click.Choice(_LOG_LEVELS),
            default=None,
            expose_value=False,
            callback=_lifted,
            help=_LOG_LEVEL_HELP + " [default: warning]",
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_lifted,
            help=_DEBUG_HELP,
        ),
    ]


class FtpbridgeGroup(click.Group):
    """A group whose every command (and sub-group) also takes the global options after
    its name: systemd units, cron lines and people write ``ftpbridge run --config PATH``
    as often as ``ftpbridge --config PATH run``, and both must work. A mistyped command
    line is reported as every error is: an ``Error:`` line, then a ``Try:`` line."""

    group_class = type  # sub-groups made with @group.group() are FtpbridgeGroups too

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            where = exc.ctx.command_path if exc.ctx is not None else "ftpbridge"
            click.echo(f"Try: {where} --help", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        present = {parameter.name for parameter in cmd.params}
        cmd.params.extend(option for option in _global_options() if option.name not in present)
        super().add_command(cmd, name)


@click.group(
    "ftpbridge",
    cls=FtpbridgeGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=GLOBAL_OPTIONS_NOTE,
)
@click.version_option(__version__, prog_name="ftpbridge")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help=_CONFIG_HELP,
)
@click.option(
    "--log-level",
    type=click.Choice(_LOG_LEVELS),
    default="warning",
    show_default=True,
    help=_LOG_LEVEL_HELP,
)
@click.option("--debug", is_flag=True, help=_DEBUG_HELP)
@click.pass_context
def main(context: click.Context, config: str | None, log_level: str, debug: bool) -> None:
    """Exchange orders and shipment confirmations with fulfillers as CSV over FTP/FTPS/SFTP."""
    from ftpbridge.logs import configure_logging

    configure_logging(level="debug" if debug else log_level, for_people=True)
    context.obj = Context(config, log_level, debug)


pass_state = click.make_pass_decorator(Context)


class Choice(click.Choice[str]):
    """click.Choice that also says "did you mean ...?" for a near miss (``pendng``)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            import difflib

            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            if not close:
                raise
            raise click.BadParameter(
                f"{exc.message} Did you mean {close[0]!r}?", ctx=ctx, param=param
            ) from None
