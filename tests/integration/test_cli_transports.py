"""``check``, ``export --upload`` and ``poll --once`` through the real command line, and the
SFTP host-key trust flow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.servers import FTPServer, SSHServer

FTPBRIDGE = str(Path(sys.executable).parent / "ftpbridge")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FTPBRIDGE, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=config.parent,
    )


def test_demo_runs_the_whole_exchange() -> None:
    """``ftpbridge demo`` needs no config, narrates every step, shows the rejected rows with
    their reasons, and exits 0."""
    result = subprocess.run(
        [FTPBRIDGE, "demo"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "14 applied, 1 unchanged, 2 rejected" in result.stdout
    assert "scientific notation" in result.stdout
    assert "'Pigeon Post' is unknown" in result.stdout


def test_ftp_upload_poll_and_exit_codes(tmp_path: Path, ftp_server_without_mlsd: FTPServer) -> None:
    """Against a vsftpd-like server (no MLSD): export --upload, then poll (with or without
    --once) takes the fulfiller's file; exit codes 0 (clean), 1 (rows rejected), 3 (server
    unusable)."""
    server = ftp_server_without_mlsd
    folder = server.home / "cli"
    (folder / "in").mkdir(parents=True)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n[partners.acme]\ndefault = true\n'
        f'transport = "ftp"\nhost = "127.0.0.1"\nport = {server.port}\n'
        f'username = "{server.username}"\npassword_file = "secret"\n'
        'outbox = "/cli"\ninbox = "/cli/in"\nsettle_seconds = 0\ntimeout = 5\n'
    )
    (tmp_path / "secret").write_text(server.password + "\n")
    assert run(config, "orders", "load", str(EXAMPLES)).returncode == 0
    check = run(config, "check", "--partner", "acme")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "All steps worked." in check.stdout
    upload = run(config, "export", "--partner", "acme", "--upload")
    assert upload.returncode == 0, upload.stderr
    exported = next(folder.glob("orders_*.csv"))
    # A daily cron job that runs twice: not an error; says what went out and how to force.
    again = run(config, "export", "--partner", "acme", "--upload")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"already uploaded as {exported.name}" in again.stdout
    assert "ftpbridge export --partner acme --upload --force" in again.stdout
    assert again.stderr == ""
    assert sorted(path.name for path in folder.glob("orders_*.csv")) == [exported.name]
    frame = pd.read_csv(exported, dtype=str, keep_default_na=False)
    frame["shipped"] = "yes"
    frame["shipped_date"] = pd.Timestamp.now(tz="UTC").date().isoformat()
    frame["carrier"] = "fed ex"
    frame["tracking_number"] = "986578788855"
    frame.loc[0, "carrier"] = "Pigeon Post"
    frame.to_csv(folder / "in" / "orders_updated_1.csv", index=False)
    poll = run(config, "poll", "--partner", "acme", "--once")
    assert poll.returncode == 1, poll.stdout + poll.stderr
    assert "16 applied, 0 unchanged, 1 rejected" in poll.stdout
    assert (folder / "in" / "archive" / "orders_updated_1.csv.report.csv").exists()
    # `poll` polls once by itself; `--once` (older cron lines) is accepted, not advertised.
    nothing = run(config, "poll", "--partner", "acme")
    assert nothing.returncode == 0, nothing.stdout + nothing.stderr
    assert "no updated files" in nothing.stdout
    assert "--once" not in run(config, "poll", "--help").stdout
    assert server.password not in check.stdout + check.stderr + poll.stdout + poll.stderr

    config.write_text(config.read_text().replace(f"port = {server.port}", "port = 1"))
    down = run(config, "poll", "--partner", "acme", "--once")
    assert down.returncode == 3
    assert "Error:" in down.stderr and "Traceback" not in down.stderr


def test_sftp_unknown_host_key_is_refused_then_trusted_on_request(
    tmp_path: Path, sshd_server: SSHServer
) -> None:
    """An unknown host key fails check with its SHA256 fingerprint and the command to trust
    it; ``--trust-host-key`` adds it, and then every step works."""
    known_hosts = tmp_path / "known_hosts"
    (sshd_server.upload_dir / "cli").mkdir(exist_ok=True)
    sshd_server.chown_to_user(sshd_server.upload_dir / "cli")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n[partners.acme]\n'
        f'transport = "sftp"\nhost = "127.0.0.1"\nport = {sshd_server.port}\n'
        f'username = "{sshd_server.username}"\nknown_hosts = "{known_hosts}"\n'
        f'outbox = "{sshd_server.remote_root}/cli"\ntimeout = 10\n'
    )
    env_password = {"FTPBRIDGE_PARTNERS__ACME__PASSWORD": sshd_server.password}

    def check(*extra: str) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(
            [FTPBRIDGE, "--config", str(config), "check", "--partner", "acme", *extra],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **env_password},
        )

    refused = check()
    assert refused.returncode == 3
    assert "SHA256:" in refused.stdout
    assert "--trust-host-key" in refused.stdout
    assert not known_hosts.exists() or known_hosts.read_text() == ""

    trusted = check("--trust-host-key")
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert "SHA256:" in trusted.stdout
    assert f"[127.0.0.1]:{sshd_server.port}" in known_hosts.read_text()
    assert sshd_server.password not in trusted.stdout + trusted.stderr
    assert check().returncode == 0
