"""The one exception tree of ftpbridge, and the exit codes the command line maps it to.

Every error carries a message written for the person who has to act on it: it names the
file, row, column, key or server concerned, says what is wrong and, where we can tell,
what to do (``hint``). The CLI prints ``Error: <message>`` and ``Try: <hint>``; it never
prints a traceback for any of these.

Exit codes (documented in the README; the CLI uses these names, never the numbers):

====  ==============================================================================
0     everything worked (or there was nothing to do, or it was already done)
1     some rows or files were rejected, the rest was applied; ``status``: a partner
      is alerting or stale
2     usage or configuration error, or a file rejected as a whole
3     a server (FTP/FTPS/SFTP) or the store could not be used
70    internal error: a bug in ftpbridge (the message says how to report it)
130   interrupted (Ctrl+C)
====  ==============================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERNAL = 70  # EX_SOFTWARE in sysexits.h
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl+C


class FtpbridgeError(Exception):
    """Raised for every problem ftpbridge reports to a person.

    ``message`` says what went wrong, ``hint`` (optional) what to do about it.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(FtpbridgeError):
    """Raised when the config file or an environment override is missing or invalid.

    ``problems`` lists every problem found, each naming its key, so that all of them can
    be fixed in one go.
    """

    exit_code = EXIT_USAGE

    def __init__(
        self, message: str, *, problems: list[str] | None = None, hint: str | None = None
    ) -> None:
        self.problems = list(problems or [])
        full = message
        if self.problems:
            full = message + "\n" + "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(full, hint=hint)


class UsageError(FtpbridgeError):
    """Raised when a command is called in a way that cannot work (unknown partner, bad flag)."""

    exit_code = EXIT_USAGE


class InputFileError(FtpbridgeError):
    """Raised when an input file is rejected as a whole (unreadable, too large, a column missing).

    Nothing of the file is applied.
    """

    exit_code = EXIT_USAGE


class ProblemsFileError(InputFileError):
    """Raised when a file has invalid lines; ``problems`` lists each one (or the first of
    them, of ``total``), and the message shows the first 50 of them and how many more
    (nothing of the file is applied)."""

    def __init__(
        self, message: str, *, problems: list[str], hint: str | None = None, total: int = 0
    ) -> None:
        self.problems = problems
        shown = problems[:50]
        more = max(total, len(problems)) - len(shown)
        full = message + "\n" + "\n".join(f"  - {problem}" for problem in shown)
        if more > 0:
            full += f"\n  ... and {more:,} more"
        super().__init__(full, hint=hint)


class OrdersFileError(ProblemsFileError):
    """Raised when an orders JSON Lines file has invalid lines; ``problems`` lists each one."""


class CatalogueFileError(ProblemsFileError):
    """Raised when a SKU catalogue has invalid lines; ``problems`` lists each (nothing of
    the file is loaded)."""


class StoreError(FtpbridgeError):
    """Raised when the order store cannot be opened, migrated or written (locked, unreachable)."""

    exit_code = EXIT_UNAVAILABLE


class AlreadyDoneError(FtpbridgeError):
    """Raised when an action was already done and repeating it needs an explicit ``--force``.

    Not a failure: the command says what was done earlier and how to repeat it, and exits
    0 (``export --upload`` from a daily cron job that ran twice must not raise an alarm).
    """

    exit_code = EXIT_OK


class TransportError(FtpbridgeError):
    """Raised when a server cannot be used: unreachable, refused, timed out, a transfer failed.

    Transient by default: callers may retry.
    """

    exit_code = EXIT_UNAVAILABLE
    transient = True


class AuthenticationError(TransportError):
    """Raised when the server refused the credentials. Never retried in a loop: servers ban
    addresses after a few failed logins."""

    transient = False


class HostKeyError(TransportError):
    """Raised when an SFTP server's host key is unknown or has changed.

    ``fingerprint`` is the key's ``SHA256:...`` fingerprint as OpenSSH prints it.
    """

    transient = False

    def __init__(
        self,
        message: str,
        *,
        fingerprint: str,
        key_type: str,
        host_entry: str,
        key_line: str,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.fingerprint = fingerprint
        self.key_type = key_type
        self.host_entry = host_entry
        self.key_line = key_line


class TLSVerificationError(TransportError):
    """Raised when an FTPS server's certificate does not verify."""

    transient = False


class RemotePermissionError(TransportError):
    """Raised when the server refuses an operation for lack of permission (550 and the like)."""

    transient = False


class RemoteNotFoundError(TransportError):
    """Raised when a remote file or directory does not exist."""

    transient = False


# --------------------------------------------------------------------------- issue 12
# What a broken or hostile server is stopped at: each is final for the file or listing
# concerned (never retried within the cycle), and the cycle goes on with the other files.


class TooLargeError(TransportError):
    """Raised when a file is, or turns out while it downloads to be, larger than allowed
    (``max_file_bytes``); ``size`` is what the server announced or sent before the
    download stopped, ``limit`` the bound."""

    transient = False

    def __init__(self, message: str, *, size: int, limit: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.size = size
        self.limit = limit


class TooSlowError(TransportError):
    """Raised when a transfer falls behind the partner's ``min_rate_bytes``: it is
    abandoned and tried again at the next cycle."""

    transient = False


class ListingTooLongError(TransportError):
    """Raised when a folder listing holds more entries (or bytes) than
    ``max_listing_entries`` allows."""

    transient = False


class NotAFileError(TransportError):
    """Raised when an entry to download is not a regular file (a FIFO, a device, a link to
    a folder or out of the shared folder)."""

    transient = False


class TargetExistsError(TransportError):
    """Raised when a rename or an upload finds its target taken and the server will not
    replace it: ftpbridge never deletes a file it did not write."""

    transient = False


class LocalFileError(FtpbridgeError):
    """Raised when ftpbridge cannot write its own local copy of a file (staging full, no
    permission): the machine's problem, not the file's nor the server's; not retried."""

    exit_code = EXIT_UNAVAILABLE


class DeadlineError(FtpbridgeError):
    """Raised when a job runs past its deadline: it made no progress for longer than its
    partner's ``timeout`` allows."""

    exit_code = EXIT_UNAVAILABLE


class RequestError(UsageError):
    """Raised when an HTTP request cannot be served as sent (bad JSON, a wrong type, an
    unknown field, too large, no key, refused by the rules); ``status`` is the HTTP status
    to answer with, ``headers`` any headers the answer needs (``WWW-Authenticate``,
    ``Retry-After``), and ``errors`` one entry per refused item or order (JSON-ready)."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, object]] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.headers = dict(headers or {})
        self.errors = errors
