"""The API server settles its heap at start: what exists by then is frozen out of the
garbage collector's full collections (web/server.py, settle_heap)."""

from __future__ import annotations

import gc
from pathlib import Path

from ftpbridge.settings import build_settings
from ftpbridge.store import open_store
from ftpbridge.web.server import ApiServer


def test_the_server_freezes_what_exists_when_it_is_built(tmp_path: Path) -> None:
    settings = build_settings(
        {"store": {"url": f"sqlite:///{tmp_path / 'store.db'}"}, "api": {"listen": "127.0.0.1:0"}},
        config_path=tmp_path / "config.toml",
    )
    store = open_store(settings.store_url)
    gc.unfreeze()
    try:
        server = ApiServer(settings, store)
        try:
            assert gc.get_freeze_count() > 0
            # the app itself is among what was frozen: gc.collect() no longer visits it
            assert not any(obj is server.server.config.app for obj in gc.get_objects())
        finally:
            server.socket.close()
    finally:
        gc.unfreeze()
        store.close()
