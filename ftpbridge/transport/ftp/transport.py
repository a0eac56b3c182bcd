"""The FTP transport: FTP, or FTPS with explicit TLS, over ftplib. ``FTPTransport`` owns
the transfers (downloads bounded by a TransferWatch, uploads under a temporary name then
renamed) and the file operations (rename, delete, makedirs).

It is built in three layers: ``connection`` (connect, TLS, log in, retries, errors
translated), ``directories`` (MLSD, LIST, NLST listings read as bounded streams), and this
module.
"""

from __future__ import annotations

import ftplib
import os
import posixpath
from pathlib import Path

import structlog

from ftpbridge.durable import temporary_beside
from ftpbridge.errors import (
    RemoteNotFoundError,
    TargetExistsError,
    TooLargeError,
    TransportError,
)
from ftpbridge.transport.base import CrossDirectoryRenameError
from ftpbridge.transport.bounds import LocalSink, TransferWatch
from ftpbridge.transport.ftp.connection import BLOCK_SIZE, NOT_FOUND_WORDS
from ftpbridge.transport.ftp.directories import FTPDirectories
from ftpbridge.transport.names import part_path, same_directory
from ftpbridge.transport.progress import upload_source

logger = structlog.get_logger()


class FTPTransport(FTPDirectories):
    """FTP (``kind="ftp"``) or FTPS with explicit TLS (``kind="ftps"``) via ftplib."""

    # --- transfers

    def download(self, remote_path: str, local_path: Path, *, max_bytes: int | None = None) -> int:
        """Fetch ``remote_path`` into ``local_path`` (temp file + rename); return its size.
        Bounded by ``max_bytes`` and the minimum rate (see Transport.download)."""
        params = self._params
        what = f"{self.kind}: the download of {remote_path!r} from {self.describe()}"

        def operation(ftp: ftplib.FTP) -> int:
            expected = self._size(ftp, remote_path)
            if max_bytes is not None and expected is not None and expected > max_bytes:
                raise TooLargeError(
                    f"{what}: the server announces {expected:,} bytes, over the limit"
                    " (max_file_bytes); not downloaded",
                    size=expected,
                    limit=max_bytes,
                )
            watch = TransferWatch(
                what, min_rate=params.min_rate_bytes, grace=params.timeout, max_bytes=max_bytes
            )
            with temporary_beside(local_path) as temporary:
                with LocalSink(temporary, watch, remote=remote_path, size=expected) as sink:
                    ftp.voidcmd("TYPE I")
                    self._receive(ftp, f"RETR {remote_path}", sink.write)
                    sink.close()
                written = temporary.stat().st_size
                if expected is not None and written != expected:
                    raise TransportError(
                        f"{self.kind}: download of {remote_path!r} from {self.describe()} "
                        f"stopped at {written} of {expected} bytes"
                    )
                os.replace(temporary, local_path)
            return written

        result: int = self._run("download", remote_path, operation)
        return result

    def upload(self, local_path: Path, remote_path: str) -> None:
        """Store ``local_path`` under a temporary name of this attempt's own
        (``part_path``), then rename it onto ``remote_path``."""

        left: list[str] = []  # temporary files of earlier attempts, not removed then

        def operation(ftp: ftplib.FTP) -> None:
            for earlier in list(left):  # ours: written by this upload, cut off with its connection
                if self._remove_quietly(ftp, earlier):
                    left.remove(earlier)
            temporary = part_path(remote_path)
            try:
                with upload_source(local_path, remote_path) as handle:
                    ftp.storbinary(f"STOR {temporary}", handle, blocksize=BLOCK_SIZE)
                self._rename(ftp, temporary, remote_path)
            except BaseException:
                if not self._remove_quietly(ftp, temporary):
                    left.append(temporary)
                raise

        self._run("upload to", remote_path, operation)

    def _remove_quietly(self, ftp: ftplib.FTP, path: str) -> bool:
        """Remove ``path`` (a temporary file of ours); True when it is gone."""
        try:
            ftp.delete(path)
        except ftplib.error_perm as error:
            return any(word in str(error).lower() for word in NOT_FOUND_WORDS)
        except (ftplib.Error, OSError, EOFError):
            logger.debug("could not remove temporary upload", path=path, server=self.describe())
            return False
        return True

    # --- file operations

    def rename(self, source: str, target: str) -> None:
        """Rename ``source`` onto ``target`` (replaced where the server replaces; never
        deleted first: TargetExistsError where the server will not replace it)."""
        self._run(f"rename {source!r} to", target, lambda ftp: self._rename(ftp, source, target))

    def _rename(self, ftp: ftplib.FTP, source: str, target: str) -> None:
        self._rename_from(ftp, source)
        try:
            ftp.voidcmd(f"RNTO {target}")
        except ftplib.error_perm as error:
            refused = error
        else:
            return
        if self._size(ftp, target) is not None:
            # This server will not rename onto an existing file. Deleting it first would
            # delete a file someone else wrote (another upload of the same name that just
            # finished): leave it, and say so.
            raise TargetExistsError(
                f"{self.kind}: {self.describe()} will not replace {target!r}, which exists"
                f" ({refused}); ftpbridge never deletes a file it did not write",
                hint="remove or rename that file on the server if it is not wanted",
            ) from refused
        if not same_directory(source, target):
            raise CrossDirectoryRenameError(
                f"{self.kind}: {self.describe()} refused to move {source!r} to {target!r} "
                f"(another directory): {refused}",
                hint="the file will be copied and the original deleted instead",
            ) from refused
        raise refused

    def _rename_from(self, ftp: ftplib.FTP, source: str) -> None:
        try:
            answer = ftp.sendcmd(f"RNFR {source}")
        except ftplib.error_perm as error:
            text = str(error)
            if text[:3] == "550" and "permission" not in text.lower():
                raise RemoteNotFoundError(
                    f"{self.kind}: cannot rename {source!r} on {self.describe()}: {text}"
                ) from error
            raise
        if not answer.startswith("3"):
            raise ftplib.error_reply(answer)  # noqa: S321  (an exception class, not a call)

    def delete(self, path: str) -> None:
        """Delete the file ``path``."""
        self._run("delete", path, lambda ftp: ftp.delete(path))

    def makedirs(self, path: str) -> None:
        """Create ``path`` and any missing parent; an existing directory is fine."""

        def operation(ftp: ftplib.FTP) -> None:
            if self._is_directory(ftp, path):
                return
            current = "/" if path.startswith("/") else ""
            for component in [part for part in path.split("/") if part]:
                current = posixpath.join(current, component) if current else component
                try:
                    ftp.mkd(current)
                except ftplib.error_perm:
                    if not self._is_directory(ftp, current):
                        raise

        self._run("create directory", path, operation)
