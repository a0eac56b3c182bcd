"""Transfers show their progress on a terminal (issue 11 item 20): ``export --upload`` its
upload, ``poll`` each download, through the real command line against a real FTP server
and a local folder; on a pipe, nothing."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.servers import FTPServer
from tests.terminal import FTPBRIDGE, run_with_terminal_stderr

ITEMS = 5_000
NAME_LENGTH = 480  # rows of ~650 bytes: a file of about 3 MB, many blocks on every transport


def _orders(path: Path) -> None:
    """``ITEMS`` orders of one item each, with long product names."""
    with path.open("w", encoding="utf-8") as handle:
        for number in range(1, ITEMS + 1):
            order = {
                "id": number,
                "created_at": "2026-11-11T09:15:00Z",
                "fan": f"fan{number}@example.com",
                "shipping_address": {
                    "firstname": "Grace",
                    "lastname": "Hopper",
                    "address1": f"{number} Main Street",
                    "city": "London",
                    "postal_code": "SW1A 1AA",
                    "country": "GB",
                },
                "items": [
                    {
                        "id": 100_000 + number,
                        "sku_id": 27,
                        "product_name": f"Hoodie {number} " + "x" * NAME_LENGTH,
                        "product_type": "merchandise",
                        "factory_sku": "55666",
                        "quantity": 1,
                        "status": "pending",
                    }
                ],
            }
            handle.write(json.dumps(order) + "\n")


@pytest.fixture(params=["ftp", "local"])
def partner_folder(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """(the config file, the partner's folder on disk) for a partner on a real FTP server
    or in a local folder; the store holds ``ITEMS`` unshipped items."""
    config = tmp_path / "config.toml"
    store = f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n'
    if request.param == "ftp":
        server: FTPServer = request.getfixturevalue("ftp_server")
        folder = server.home / f"progress-{tmp_path.name}"
        remote = f"/{folder.name}"
        where = (
            f'transport = "ftp"\nhost = "127.0.0.1"\nport = {server.port}\n'
            f'username = "{server.username}"\npassword_file = "secret"\n'
        )
        (tmp_path / "secret").write_text(server.password + "\n")
    else:
        folder = tmp_path / "share"
        remote = ""
        where = f'transport = "local"\npath = "{folder}"\n'
    config.write_text(
        f"{store}[partners.acme]\ndefault = true\n{where}"
        f'outbox = "{remote or "/"}"\ninbox = "{remote}/in"\nsettle_seconds = 0\ntimeout = 10\n'
    )
    (folder / "in").mkdir(parents=True)
    orders = tmp_path / "orders.jsonl"
    _orders(orders)
    loaded = _piped(config, "orders", "load", str(orders))
    assert loaded.returncode == 0, loaded.stderr
    return config, folder


def _piped(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FTPBRIDGE), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=config.parent,
    )


def _shipped(exported: Path, target: Path) -> None:
    """The fulfiller's answer to ``exported``: every item shipped."""
    frame = pd.read_csv(exported, dtype=str, keep_default_na=False)
    frame["shipped"] = "yes"
    frame["shipped_date"] = pd.Timestamp.now(tz="UTC").date().isoformat()
    frame["carrier"] = "fed ex"
    frame["tracking_number"] = "986578788855"
    frame.to_csv(target, index=False)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f}"


def test_upload_and_downloads_show_progress_on_a_terminal_only(
    partner_folder: tuple[Path, Path],
) -> None:
    """A terminal sees "Uploading NAME: N% (done of total MB)" rewritten in place up to
    100 % and cleared, and the same for each download; a pipe sees none of it."""
    config, folder = partner_folder
    piped = _piped(config, "export", "--partner", "acme", "--upload")
    assert piped.returncode == 0, piped.stderr
    assert "Uploading" not in piped.stderr and "\r" not in piped.stderr
    first = next(folder.glob("orders_*.csv"))
    size = first.stat().st_size
    assert size > 2_500_000

    code, out, terminal = run_with_terminal_stderr(
        ["--config", str(config), "export", "--partner", "acme", "--upload", "--force"],
        config.parent,
    )
    assert code == 0, out + terminal
    second = next(path for path in folder.glob("orders_*.csv") if path != first)
    assert second.stat().st_size == size  # the same items again
    line = f"Uploading {second.name}: 100% ({_megabytes(size)} of {_megabytes(size)} MB)"
    assert "\r" + line in terminal
    assert "\r" + " " * len(line) + "\r" in terminal  # cleared when the upload ended
    shown = re.findall(rf"\rUploading {re.escape(second.name)}: (\d+)%", terminal)
    assert len(shown) >= 2 and shown[-1] == "100"  # a part of it first, then the whole
    assert [int(percent) for percent in shown] == sorted(int(percent) for percent in shown)

    _shipped(first, folder / "in" / "orders_updated_1.csv")
    piped = _piped(config, "poll", "--partner", "acme")
    assert piped.returncode == 0, piped.stdout + piped.stderr
    assert f"{ITEMS:,} applied".replace(",", "") in piped.stdout.replace(",", "")
    assert "Downloading" not in piped.stderr and "\r" not in piped.stderr

    _shipped(first, folder / "in" / "orders_updated_2.csv")
    updated = (folder / "in" / "orders_updated_2.csv").stat().st_size
    code, out, terminal = run_with_terminal_stderr(
        ["--config", str(config), "poll", "--partner", "acme"], config.parent
    )
    assert code == 0, out + terminal
    line = (
        f"Downloading orders_updated_2.csv: 100% ({_megabytes(updated)} of"
        f" {_megabytes(updated)} MB)"
    )
    assert "\r" + line in terminal
    assert "\r" + " " * len(line) + "\r" in terminal
    assert "Uploading" not in terminal  # the report's upload is small: not shown
