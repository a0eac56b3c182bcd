"""What every section of the configuration shares: the strict base model (unknown keys
refused, frozen, keys by name or alias) and paths taken relative to the config file's folder."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _relative_to(path: Path | None, base: Path | None) -> Path | None:
    if path is None:
        return None
    return _absolute(path, base) if base is not None else path.expanduser()


def _absolute(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base / path
