"""The SFTP transport: the Transport protocol (``transport/base.py``) over one SSH session.

Connecting checks the host key before any credential is sent (``hostkeys``), logs in
(``session``) and opens the SFTP channel with the paths its capability check chose
(``fastpaths``). Every operation runs through ``_run``: paramiko's errors become
TransportErrors naming the server and path, transient ones are retried with backoff, and a
dead session is dropped so that the next attempt reconnects.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import paramiko
import structlog

from ftpbridge import deadlines
from ftpbridge.durable import temporary_beside
from ftpbridge.errors import (
    FtpbridgeError,
    NotAFileError,
    RemoteNotFoundError,
    RemotePermissionError,
    TargetExistsError,
    TooLargeError,
    TransportError,
)
from ftpbridge.transport.base import (
    ATTEMPT_TIMEOUTS,
    ConnectionParams,
    CrossDirectoryRenameError,
    RemoteFile,
)
from ftpbridge.transport.bounds import LocalSink, TransferWatch
from ftpbridge.transport.names import part_path, safe_entries, same_directory
from ftpbridge.transport.progress import upload_source
from ftpbridge.transport.retries import retrying
from ftpbridge.transport.sftp.hostkeys import check_host_key, host_entry, known_keys
from ftpbridge.transport.sftp.session import (
    DEFAULT_PORT,
    Session,
    auth_failed,
    authenticate,
    open_sftp,
    start,
)

logger = structlog.get_logger()

T = TypeVar("T")


class SFTPTransport:
    """SFTP over paramiko, host key checked against ``params.known_hosts``."""

    kind = "sftp"

    def __init__(self, params: ConnectionParams) -> None:
        self._params = params
        self._port = params.port or DEFAULT_PORT
        self._ssh: paramiko.Transport | None = None
        self._session: Session | None = None

    def describe(self) -> str:
        """Return ``sftp://user@host:port``; never a secret."""
        return f"sftp://{self._params.username}@{self._params.host}:{self._port}"

    # --- connection

    def __enter__(self) -> Self:
        """Connect, check the host key, authenticate; transient failures are retried."""
        self._run("connect to", self.describe(), lambda _session: None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the session; never raises."""
        self._drop()

    def _drop(self) -> None:
        session, ssh = self._session, self._ssh
        self._session = self._ssh = None
        for closable in (session.sftp if session else None, ssh):
            if closable is not None:
                try:
                    closable.close()
                except (OSError, EOFError, paramiko.SSHException):
                    logger.debug("error while closing SFTP session", server=self.describe())

    def _connection(self) -> Session:
        if self._session is not None and self._ssh is not None and self._ssh.is_active():
            return self._session
        self._drop()
        params = self._params
        known = known_keys(params.known_hosts, params.host, self._port)
        ssh = start(params.host, self._port, params.timeout, known)
        try:
            check_host_key(
                ssh.get_remote_server_key(),
                known,
                entry=host_entry(params.host, self._port),
                known_hosts=params.known_hosts,
            )
            authenticate(ssh, params, self.describe())
            session = open_sftp(ssh, params.timeout, self.describe())
        except BaseException:
            ssh.close()
            raise
        self._ssh, self._session = ssh, session
        return session

    def _run(self, action: str, path: str, operation: Callable[[Session], T]) -> T:
        """Run ``operation(session)`` on a live session, translating and retrying errors."""

        def attempt() -> T:
            deadlines.renew(ATTEMPT_TIMEOUTS * self._params.timeout)  # progress: a new try
            try:
                return operation(self._connection())
            except FtpbridgeError:
                raise
            except (OSError, EOFError, paramiko.SSHException) as error:
                raise self._translate(error, action, path) from error

        return retrying(
            attempt,
            attempts=self._params.retries,
            what=action,
            where=self.describe(),
            on_retry=self._drop,
        )

    def _translate(self, error: BaseException, action: str, path: str) -> TransportError:
        detail = str(error).strip() or type(error).__name__
        if isinstance(error, OSError) and error.strerror:
            detail = error.strerror
        message = f"sftp: cannot {action} {path!r} on {self.describe()}: {detail}"
        if isinstance(error, paramiko.AuthenticationException):
            return auth_failed(self.describe(), self._params.username, "login", error)
        alive = self._ssh is not None and self._ssh.is_active()
        if isinstance(error, OSError) and not isinstance(error, TimeoutError) and alive:
            if error.errno == errno.ENOENT:
                return RemoteNotFoundError(message)
            if error.errno == errno.EACCES:
                return RemotePermissionError(message)
            if self._session is not None:
                # The server answered with a failure status: the session is fine, the
                # operation is not going to work by trying again.
                failure = TransportError(message)
                failure.transient = False
                return failure
        # Dead or stuck session, refused connection, timeout: worth another attempt.
        return TransportError(message)

    # --- listing

    def list(self, directory: str) -> list[RemoteFile]:
        """Return the safe entries of ``directory``."""
        limit = self._params.max_listing_entries
        entries = self._run(
            "list",
            directory,
            lambda session: session.paths.listdir(session.sftp, directory, limit=limit),
        )
        return safe_entries(entries, directory=directory, transport=self.describe())

    # --- transfers

    def download(self, remote_path: str, local_path: Path, *, max_bytes: int | None = None) -> int:
        """Fetch ``remote_path`` (pipelined) into ``local_path``; return its size. Only a
        regular file is opened (a link is followed first), and the size it has once open
        is what is read: over ``max_bytes``, nothing is (see Transport.download)."""
        params = self._params
        what = f"sftp: the download of {remote_path!r} from {self.describe()}"

        def operation(session: Session) -> int:
            sftp = session.sftp
            # Opening a FIFO would block the server's process, and a folder opens but
            # cannot be read: look at what the name leads to first.
            mode = sftp.stat(remote_path).st_mode
            if mode is not None and not stat.S_ISREG(mode):
                raise NotAFileError(
                    f"sftp: {remote_path!r} on {self.describe()} is not a regular file"
                    f" ({_kind_of(mode)}); it cannot be downloaded",
                    hint="ask the partner to put plain files in the inbox",
                )
            with temporary_beside(local_path) as temporary:
                with sftp.open(remote_path, "rb") as remote:
                    expected = remote.stat().st_size or 0
                    if max_bytes is not None and expected > max_bytes:
                        raise TooLargeError(
                            f"{what}: the file is {expected:,} bytes once open, over the"
                            " limit (max_file_bytes); not downloaded",
                            size=expected,
                            limit=max_bytes,
                        )
                    watch = TransferWatch(
                        what,
                        min_rate=params.min_rate_bytes,
                        grace=params.timeout,
                        max_bytes=max_bytes,
                    )
                    with LocalSink(temporary, watch, remote=remote_path, size=expected) as sink:
                        session.paths.read(sftp, remote, expected, sink, session.read_size)
                        sink.close()
                written = temporary.stat().st_size
                if written != expected:
                    raise TransportError(
                        f"sftp: download of {remote_path!r} from {self.describe()} stopped at "
                        f"{written} of {expected} bytes"
                    )
                os.replace(temporary, local_path)
            return written

        return self._run("download", remote_path, operation)

    def upload(self, local_path: Path, remote_path: str) -> None:
        """Write a temporary name of this attempt's own (``part_path``, pipelined), then
        rename it onto ``remote_path``."""

        left: list[str] = []  # temporary files of earlier attempts, not removed then

        def operation(session: Session) -> None:
            sftp = session.sftp
            for earlier in list(left):  # ours: written by this upload, cut off with its session
                if _remove_quietly(sftp, earlier):
                    left.remove(earlier)
            temporary = part_path(remote_path)
            try:
                with upload_source(local_path, remote_path) as handle:
                    session.paths.write(sftp, handle, temporary, session.write_size)
                self._rename(sftp, temporary, remote_path)
            except BaseException:
                alive = self._ssh is not None and self._ssh.is_active()
                if not (alive and _remove_quietly(sftp, temporary)):
                    left.append(temporary)
                raise

        self._run("upload to", remote_path, operation)

    # --- file operations

    def rename(self, source: str, target: str) -> None:
        """Rename ``source`` onto ``target`` (``posix-rename@openssh.com`` when offered)."""
        self._run(
            f"rename {source!r} to",
            target,
            lambda session: self._rename(session.sftp, source, target),
        )

    def _rename(self, sftp: paramiko.SFTPClient, source: str, target: str) -> None:
        try:
            sftp.posix_rename(source, target)
            return
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.EACCES):
                raise
            refused = error
        # No posix-rename extension (or it failed): plain rename refuses existing targets.
        try:
            sftp.rename(source, target)
            return
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.EACCES):
                raise
        if _exists(sftp, target):
            # Never deleted to make room: it may be another upload's finished file.
            raise TargetExistsError(
                f"sftp: {self.describe()} will not replace {target!r}, which exists;"
                " ftpbridge never deletes a file it did not write",
                hint="remove or rename that file on the server if it is not wanted",
            )
        if not same_directory(source, target):
            raise CrossDirectoryRenameError(
                f"sftp: {self.describe()} refused to move {source!r} to {target!r} "
                f"(another directory): {refused}",
                hint="the file will be copied and the original deleted instead",
            ) from refused
        raise refused

    def delete(self, path: str) -> None:
        """Delete the file ``path``."""
        self._run("delete", path, lambda session: session.sftp.remove(path))

    def makedirs(self, path: str) -> None:
        """Create ``path`` and any missing parent; an existing directory is fine."""

        def operation(session: Session) -> None:
            sftp = session.sftp
            if _is_directory(sftp, path):
                return
            current = "/" if path.startswith("/") else ""
            for component in [part for part in path.split("/") if part]:
                current = posixpath.join(current, component) if current else component
                if _is_directory(sftp, current):
                    continue
                try:
                    sftp.mkdir(current)
                except OSError:
                    if not _is_directory(sftp, current):  # lost a race: fine if it exists now
                        raise

        self._run("create directory", path, operation)


def _kind_of(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def _remove_quietly(sftp: paramiko.SFTPClient, path: str) -> bool:
    """Remove ``path`` (a temporary file of ours); True when it is gone."""
    try:
        sftp.remove(path)
    except FileNotFoundError:
        return True
    except (OSError, EOFError, paramiko.SSHException):
        logger.debug("could not remove temporary upload", path=path)
        return False
    return True


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


def _is_directory(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        mode = sftp.stat(path).st_mode
    except FileNotFoundError:
        return False
    return mode is not None and stat.S_ISDIR(mode)
