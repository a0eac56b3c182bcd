"""``ftpbridge check``: the "Test Connection" button. Every operation ftpbridge needs on a
partner's server, step by step, timed, with what to do when one fails."""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ftpbridge.errors import (
    AuthenticationError,
    FtpbridgeError,
    HostKeyError,
    RemoteNotFoundError,
    RemotePermissionError,
    TLSVerificationError,
    TransportError,
    UsageError,
)
from ftpbridge.exchange.partners import partner_transport
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.transport import Transport, remote_join


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str
    hint: str | None = None


@dataclass
class CheckReport:
    partner: str
    server: str
    steps: list[Step] = field(default_factory=list)
    trusted_key: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)


def _hint_for(error: BaseException, partner: PartnerSettings, step: str) -> str | None:
    if isinstance(error, HostKeyError):
        changed = "CHANGED" in error.message
        return (
            f"confirm {error.fingerprint} with the partner, then run: ftpbridge check --partner"
            f" {partner.name} --trust-host-key {error.fingerprint}"
            + (" --replace-host-key" if changed else "")
        )
    if isinstance(error, AuthenticationError):
        general = "check username and password / password_file (or the private key) in the config"
        # A key that cannot be used carries its own hint (which setting is missing).
        hint = error.hint if isinstance(error, FtpbridgeError) else None
        return hint if hint and "private_key" in hint else general
    if isinstance(error, TLSVerificationError):
        return "set ca_file to the partner's CA certificate (tls_verify = false only for testing)"
    if isinstance(error, RemotePermissionError):
        return f"the server refuses to write there: ask the partner for write permission ({step})"
    if isinstance(error, RemoteNotFoundError):
        return "check outbox / inbox in the config: the folder does not exist on the server"
    if (
        isinstance(error, TransportError)
        and step != "connect"
        and partner.transport in ("ftp", "ftps")
    ):
        return (
            "the data connection failed: a firewall may block the passive port range;"
            " try passive = false, or ask the partner to open it"
        )
    if isinstance(error, TransportError):
        return "check host and port, and that this machine may reach the server (firewall)"
    return None


def run_check(
    settings: Settings,
    partner: PartnerSettings,
    *,
    trust_host_key: bool | str = False,
    replace_host_key: bool = False,
) -> CheckReport:
    """Try every operation ftpbridge needs on the partner's server, and time each step.

    ``trust_host_key``: True to trust the SFTP server's key if none is known for it yet;
    a fingerprint (``SHA256:...``) to trust only that key; ``replace_host_key`` (with a
    fingerprint) to replace a key known for the server by that one (see ``_trust``)."""
    transport = partner_transport(settings, partner)
    report = CheckReport(partner.name, transport.describe())
    if replace_host_key and not isinstance(trust_host_key, str):
        raise UsageError(
            "--replace-host-key replaces the server's known key by the one whose fingerprint"
            " you give, and needs it",
            hint=f"ftpbridge check --partner {partner.name} --trust-host-key SHA256:..."
            " --replace-host-key (the fingerprint the partner confirmed)",
        )
    if trust_host_key and partner.transport == "sftp":
        _trust(settings, partner, report, trust_host_key, replace_host_key)

    def step(name: str, action: Callable[[], str]) -> bool:
        started = time.monotonic()
        try:
            detail = action()
        except FtpbridgeError as exc:
            report.steps.append(
                Step(
                    name,
                    False,
                    time.monotonic() - started,
                    exc.message,
                    _hint_for(exc, partner, name) or exc.hint,
                )
            )
            return False
        report.steps.append(Step(name, True, time.monotonic() - started, detail))
        return True

    entered: list[Transport] = []

    def connect() -> str:
        entered.append(transport.__enter__())
        return f"connected and logged in to {transport.describe()}"

    if not step("connect", connect):
        return report
    try:
        inbox = partner.inbox_dir
        step("list inbox", lambda: f"{len(transport.list(inbox))} entries in {inbox}")
        probe_name = f".ftpbridge-check-{secrets.token_hex(4)}"
        temporary = remote_join(partner.outbox, probe_name + ".tmp")
        final = remote_join(partner.outbox, probe_name + ".txt")
        with tempfile.TemporaryDirectory() as folder:
            probe = Path(folder) / "probe.txt"
            probe.write_text("ftpbridge connection check; safe to delete\n", encoding="utf-8")

            def upload() -> str:
                transport.upload(probe, temporary)
                return f"wrote {temporary}"

            uploaded = step("upload", upload)
        if uploaded:

            def rename() -> str:
                transport.rename(temporary, final)
                return f"renamed to {final}"

            renamed = step("rename", rename)

            def delete() -> str:
                transport.delete(final if renamed else temporary)
                return "probe removed"

            step("delete", delete)
    finally:
        transport.__exit__(None, None, None)
    return report


def _trust(
    settings: Settings,
    partner: PartnerSettings,
    report: CheckReport,
    wanted: bool | str,
    replace: bool,
) -> None:
    """Trust the server's host key (issue 12): with a fingerprint, only the key that has
    it; a key known for the server already and different is never added beside it (the
    connection would still fail): it is replaced only with ``replace`` and the new key's
    fingerprint, else refused saying how."""
    from ftpbridge.transport.sftp import fetch_host_key, trust_host_key
    from ftpbridge.transport.sftp.hostkeys import known_keys, replace_host_key

    known_hosts = settings.resolve(partner.known_hosts)
    if known_hosts is None:
        raise UsageError(
            f"partner {partner.name} has no known_hosts file to add the key to",
            hint=f'set known_hosts = "known_hosts" in [partners.{partner.name}]',
        )
    port = partner.port or 22
    info = fetch_host_key(partner.host, port, partner.timeout)
    presented = f"{info.key_type} {info.fingerprint}"
    if isinstance(wanted, str) and wanted.strip() != info.fingerprint:
        raise _refused(
            f"{info.host_entry} presents {presented}, not {wanted.strip()}: not trusted (this"
            " may be someone in the middle, or a fingerprint copied wrong)",
            hint="ask the partner for the fingerprint again; check the host and port",
        )
    known = known_keys(known_hosts, partner.host, port) or {}
    if any(key.get_base64() == info.key_base64 for key in known.values()):
        report.trusted_key = f"{presented} (already trusted)"
        return
    if known and not replace:
        old = ", ".join(f"{kind}" for kind in known)
        raise _refused(
            f"the host key of {info.host_entry} has CHANGED: {known_hosts} holds another key"
            f" for it ({old}), the server now presents {presented}; not trusted",
            hint=f"confirm {info.fingerprint} with the partner, then run: ftpbridge check"
            f" --partner {partner.name} --trust-host-key {info.fingerprint}"
            " --replace-host-key",
        )
    if known:
        replace_host_key(known_hosts, info)
        report.trusted_key = f"{presented} (replacing the key known before)"
        return
    trust_host_key(known_hosts, info)
    report.trusted_key = presented


def _refused(message: str, *, hint: str) -> FtpbridgeError:
    error = TransportError(f"sftp: {message}", hint=hint)
    error.transient = False
    return error


def describe_check(report: CheckReport) -> list[str]:
    lines = [f"Checking {report.partner} ({report.server})"]
    if report.trusted_key:
        lines.append(f"  trusted host key {report.trusted_key}")
    for step in report.steps:
        mark = "ok  " if step.ok else "FAIL"
        lines.append(f"  {mark} {step.name:<11} {step.seconds * 1000:7.0f} ms  {step.detail}")
        if step.hint:
            lines.append(f"       Try: {step.hint}")
    lines.append("All steps worked." if report.ok else "The connection is not usable; see above.")
    return lines
