"""Files uploaded for an import by hand, kept between the dry run and apply or cancel.

Kept on the server's disk under ``state_dir/console-uploads`` (several replicas behind a
load balancer share it as they share ``state_dir``), named by a digest of the session and
a random token: only the session that uploaded a file can apply or cancel it, and a name
sent by a browser is never part of a path. One file per session at a time (a new upload
replaces the last); files older than ``MAX_AGE`` are removed at the next upload. Each is
bounded in size by ``[daemon] max_file_bytes`` when it is read (see ``access.read_form``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ftpbridge.web.console.session import Session

MAX_AGE = dt.timedelta(hours=2)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class Held:
    """An uploaded file waiting for apply or cancel."""

    token: str
    path: Path
    name: str  # as the browser sent it (shown, never used as a path)
    partner: str


class Uploads:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _owner(self, session: Session) -> str:
        return hashlib.sha256(f"upload:{session.id}".encode()).hexdigest()[:32]

    def keep(self, session: Session, source: BinaryIO, name: str, partner: str) -> Held:
        """Copy ``source`` to disk for ``session``; drop its earlier upload and stale ones."""
        self.folder.mkdir(parents=True, exist_ok=True)
        owner = self._owner(session)
        self._prune(owner)
        token = secrets.token_urlsafe(18)
        path = self.folder / f"{owner}-{token}.upload"
        with path.open("wb") as handle:
            shutil.copyfileobj(source, handle, 1024 * 1024)
        path.with_suffix(".json").write_text(json.dumps({"name": name, "partner": partner}))
        return Held(token, path, name, partner)

    def held(self, session: Session, token: str) -> Held | None:
        """The session's upload named by ``token``, if it is still kept."""
        if not _TOKEN.fullmatch(token):
            return None
        path = self.folder / f"{self._owner(session)}-{token}.upload"
        try:
            facts = json.loads(path.with_suffix(".json").read_text())
        except (OSError, ValueError):
            return None
        try:
            if path.stat().st_mtime < time.time() - MAX_AGE.total_seconds():
                return None  # too old: the next upload of anyone removes it
        except FileNotFoundError:
            return None
        return Held(token, path, str(facts["name"]), str(facts["partner"]))

    def drop(self, held: Held) -> None:
        for path in (held.path, held.path.with_suffix(".json"), _report(held.path)):
            path.unlink(missing_ok=True)

    def _prune(self, owner: str) -> None:
        oldest = time.time() - MAX_AGE.total_seconds()
        for path in self.folder.iterdir():
            try:
                stale = path.stat().st_mtime < oldest
            except FileNotFoundError:
                continue
            if path.name.startswith(owner + "-") or stale:
                path.unlink(missing_ok=True)


def _report(path: Path) -> Path:
    return path.with_name(path.name + ".report.csv")
