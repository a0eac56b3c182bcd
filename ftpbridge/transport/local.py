"""A local directory as a transport: mounted shares, and the ops path when a partner drops
files on our disk. Remote paths are relative to ``params.path`` and may not leave it."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from ftpbridge.durable import temporary_beside
from ftpbridge.errors import (
    ListingTooLongError,
    NotAFileError,
    RemoteNotFoundError,
    RemotePermissionError,
    TooLargeError,
    TransportError,
)
from ftpbridge.transport.base import ConnectionParams, CrossDirectoryRenameError, RemoteFile
from ftpbridge.transport.bounds import LocalSink, TransferWatch
from ftpbridge.transport.names import part_path, safe_entries, same_directory
from ftpbridge.transport.progress import current_observer, upload_source

BLOCK_SIZE = 1024 * 1024


class LocalTransport:
    """A directory tree rooted at ``params.path``, behaving like a remote server."""

    kind = "local"

    def __init__(self, params: ConnectionParams) -> None:
        if params.path is None:
            raise TransportError("local transport: no directory given (path is empty)")
        self._root = Path(params.path)
        self._params = params

    def describe(self) -> str:
        """Return ``local:///absolute/root``."""
        return f"local://{self._root.absolute()}"

    def __enter__(self) -> Self:
        """Check the root directory exists."""
        if not self._root.is_dir():
            raise RemoteNotFoundError(
                f"local: directory {str(self._root)!r} does not exist",
                hint="create it or fix the path in the partner's transport section",
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Nothing to close."""

    def _resolve(self, remote_path: str) -> Path:
        """Return the local path of ``remote_path``; refuse anything outside the root."""
        root = self._root.resolve()
        candidate = (root / remote_path.lstrip("/")).resolve()
        if candidate != root and not candidate.is_relative_to(root):
            raise RemotePermissionError(
                f"local: path {remote_path!r} leaves the directory {str(root)!r}"
            )
        return candidate

    def _error(self, action: str, remote_path: str, error: OSError) -> TransportError:
        message = f"local: cannot {action} {remote_path!r}: {error.strerror or error}"
        if isinstance(error, FileNotFoundError):
            return RemoteNotFoundError(message)
        if isinstance(error, PermissionError):
            return RemotePermissionError(message)
        failure = TransportError(message)
        failure.transient = False
        return failure

    def list(self, directory: str) -> list[RemoteFile]:
        """Return the entries of ``directory``; unsafe names are skipped with a warning."""
        path = self._resolve(directory)
        limit = self._params.max_listing_entries
        entries: list[RemoteFile] = []
        try:
            with os.scandir(path) as iterator:
                for entry in iterator:
                    if len(entries) >= limit:
                        raise ListingTooLongError(
                            f"local: the folder {directory!r} holds more than {limit:,}"
                            " entries (max_listing_entries); nothing was taken from it",
                            hint="move old files away, or raise max_listing_entries in the"
                            " partner's table",
                        )
                    try:
                        info = entry.stat()
                    except OSError:
                        continue
                    is_dir = entry.is_dir()
                    entries.append(
                        RemoteFile(
                            name=entry.name,
                            size=None if is_dir else info.st_size,
                            mtime=datetime.fromtimestamp(info.st_mtime, tz=UTC),
                            is_dir=is_dir,
                        )
                    )
        except OSError as error:
            raise self._error("list", directory, error) from error
        return safe_entries(entries, directory=directory, transport=self.describe())

    def download(self, remote_path: str, local_path: Path, *, max_bytes: int | None = None) -> int:
        """Copy the file to ``local_path`` via a temporary file; return bytes written.

        Only a regular file inside the root is read (a link leading out of it is refused,
        and a named pipe is never waited on: it is opened without blocking and refused),
        bounded like every transport's download (see Transport.download)."""
        source = self._resolve(remote_path)
        what = f"local: the copy of {remote_path!r}"
        try:
            descriptor = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            raise self._error("download", remote_path, error) from error
        with os.fdopen(descriptor, "rb", buffering=0) as handle:
            try:
                info = os.fstat(descriptor)
                if not stat.S_ISREG(info.st_mode):
                    raise NotAFileError(
                        f"local: {remote_path!r} is not a regular file; it cannot be taken",
                        hint="put plain files in the shared folder",
                    )
                if max_bytes is not None and info.st_size > max_bytes:
                    raise TooLargeError(
                        f"{what}: the file is {info.st_size:,} bytes, over the limit"
                        " (max_file_bytes); not copied",
                        size=info.st_size,
                        limit=max_bytes,
                    )
                watch = TransferWatch(
                    what,
                    min_rate=self._params.min_rate_bytes,
                    grace=self._params.timeout,
                    max_bytes=max_bytes,
                )
                with temporary_beside(local_path) as temporary:
                    with LocalSink(temporary, watch, remote=remote_path, size=info.st_size) as sink:
                        while block := handle.read(BLOCK_SIZE):
                            sink.write(block)
                        sink.close()
                    written = temporary.stat().st_size
                    os.replace(temporary, local_path)
                return written
            except OSError as error:
                raise self._error("download", remote_path, error) from error

    def upload(self, local_path: Path, remote_path: str) -> None:
        """Copy ``local_path`` to ``.<name>.part`` next to the target, then rename onto it."""
        target = self._resolve(remote_path)
        temporary = self._resolve(part_path(remote_path))  # this upload's own name
        try:
            if current_observer() is None:
                shutil.copyfile(local_path, temporary)  # the kernel's copy, as fast as it gets
            else:  # block by block, each one told
                with upload_source(local_path, remote_path) as source, temporary.open("wb") as out:
                    shutil.copyfileobj(source, out, BLOCK_SIZE)
            os.replace(temporary, target)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise self._error("upload to", remote_path, error) from error

    def rename(self, source: str, target: str) -> None:
        """Rename within the root, replacing an existing target."""
        source_path = self._resolve(source)
        target_path = self._resolve(target)
        try:
            os.replace(source_path, target_path)
        except OSError as error:
            if error.errno == errno.EXDEV and not same_directory(source, target):
                raise CrossDirectoryRenameError(
                    f"local: cannot rename {source!r} to {target!r} across file systems"
                ) from error
            raise self._error(f"rename {source!r} to", target, error) from error

    def delete(self, path: str) -> None:
        """Delete the file ``path``."""
        try:
            self._resolve(path).unlink()
        except OSError as error:
            raise self._error("delete", path, error) from error

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents; an existing directory is fine."""
        try:
            self._resolve(path).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise self._error("create directory", path, error) from error
