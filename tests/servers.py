"""Real servers on 127.0.0.1 for tests, demos and benchmarks: pyftpdlib (FTP, FTPS) in a
thread, OpenSSH's sshd as a subprocess, and a TCP proxy that can cut connections.

Nothing here is a mock: every helper listens on a real port and speaks the real protocol.

    with start_ftp_server(home) as server:          # or server.stop()
        params = server.params()                     # ConnectionParams for ftpbridge
    sshd = start_sshd()                              # needs root (creates a test user)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ftpbridge.transport import Transport, open_transport
from ftpbridge.transport.base import ConnectionParams

LOOPBACK = "127.0.0.1"
FTP_USER = "partner"
FTP_PASSWORD = "ftp-test-secret-4711"
SFTP_USER = "ftpbridge-sftp-test"
SFTP_PASSWORD = "sftp-test-secret-0815"
SFTP_REMOTE_ROOT = "/upload"  # the writable directory inside the chroot
SSHD_PARENT = Path("/var/lib/ftpbridge-test")  # root-owned, not world-writable: sshd chroot rule
KEY_PASSPHRASE = "key-test-passphrase"


# --- TLS certificates ---------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateFiles:
    """A CA and a server certificate it signed, for ``127.0.0.1`` and ``localhost``."""

    ca_file: Path  # the CA certificate (what a client trusts)
    cert_file: Path  # server certificate followed by its private key (what pyftpdlib loads)


def make_certificate(directory: Path, common_name: str = "ftpbridge test CA") -> CertificateFiles:
    """Generate a CA and a server certificate for 127.0.0.1/localhost into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file = directory / "server.pem"
    cert_file.write_bytes(
        server_cert.public_bytes(serialization.Encoding.PEM)
        + server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.chmod(0o600)
    return CertificateFiles(ca_file=ca_file, cert_file=cert_file)


# --- FTP / FTPS with pyftpdlib --------------------------------------------------------------


@dataclass
class FTPServerStats:
    """What the server saw, for tests that assert on server-side behaviour."""

    commands: Counter[str] = field(default_factory=Counter)
    failed_logins: int = 0
    data_connections: int = 0
    reused_tls_sessions: int = 0
    refused_tls_data: int = 0
    cuts_left: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # hold_after_bytes: set by the server when it holds a transfer; set it to release.
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class FTPServer:
    """A running pyftpdlib server; ``params()`` gives ftpbridge what it needs to log in."""

    host: str
    port: int
    home: Path
    username: str
    password: str
    kind: str  # "ftp" or "ftps"
    ca_file: Path | None
    stats: FTPServerStats
    _server: Any
    _thread: threading.Thread

    def params(self, **overrides: Any) -> ConnectionParams:
        """Return ConnectionParams for this server (fast retries); ``overrides`` replace fields."""
        params = ConnectionParams(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            ca_file=self.ca_file,
            timeout=10.0,
        )
        return replace(params, **overrides)

    def stop(self) -> None:
        """Stop serving and close every connection."""
        self._server.close_all()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_ftp_server(
    home: Path,
    *,
    username: str = FTP_USER,
    password: str = FTP_PASSWORD,
    mlsd: bool = True,
    certificate: CertificateFiles | None = None,
    require_tls_reuse: bool = False,
    throttle_bytes_per_second: int | None = None,
    cut_data_after_bytes: int | None = None,
    cuts: int = 1,
    hold_after_bytes: int | None = None,
    fake_names: tuple[str, ...] = (),
    refuse_cross_directory_rename: bool = False,
    refuse_rename_overwrite: bool = False,
    passive_port_closed: bool = False,
    permissions: dict[Path, str] | None = None,
    customise: Callable[[type], type] | None = None,
) -> FTPServer:
    """Start a threaded pyftpdlib server on 127.0.0.1 (free port) serving ``home``.

    - ``mlsd=False`` removes MLSD/MLST, like vsftpd (clients must fall back to LIST).
    - ``certificate`` turns on explicit TLS (FTPS, ``TLS_FTPHandler``).
    - ``require_tls_reuse`` refuses TLS data connections that do not resume the control
      connection's TLS session (vsftpd ``require_ssl_reuse=YES``), with a 522 answer.
    - ``throttle_bytes_per_second`` slows data transfers in both directions.
    - ``cut_data_after_bytes`` closes a data connection after that many bytes, ``cuts`` times.
    - ``hold_after_bytes``: the first file transfer (RETR or STOR, either way) that moves
      that many bytes stops there and ``stats.held`` is set; it goes on when the test sets
      ``stats.release`` (each client has a thread of its own: others are served meanwhile).
      A test can then look at the world mid-transfer without racing the clock.
    - ``fake_names`` are added to every directory listing (hostile names no disk can hold).
    - ``refuse_cross_directory_rename`` / ``refuse_rename_overwrite`` mimic servers that
      cannot rename into another directory / onto an existing file.
    - ``passive_port_closed``: the server announces a passive port (227) but nothing can
      connect to it, as behind a firewall that rejects the passive port range.
    - ``permissions`` overrides the user's permissions (pyftpdlib letters) for folders of
      ``home``, e.g. ``{home / "in" / "archive": "elr"}`` for a folder it may not write.
    - ``customise`` is given the handler class built from all of the above and returns
      the one to serve with (a subclass that lies or misbehaves: tests/reliability/liars.py).
    """
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.filesystems import AbstractedFS
    from pyftpdlib.handlers import DTPHandler, FTPHandler, ThrottledDTPHandler
    from pyftpdlib.ioloop import IOLoop
    from pyftpdlib.servers import ThreadedFTPServer

    stats = FTPServerStats(cuts_left=cuts if cut_data_after_bytes else 0)
    authorizer = DummyAuthorizer()
    authorizer.add_user(username, password, str(home), perm="elradfmwMT")
    for folder, perm in (permissions or {}).items():
        authorizer.override_perm(username, str(folder), perm, recursive=True)

    base_handler: Any = FTPHandler
    base_dtp: Any = ThrottledDTPHandler if throttle_bytes_per_second else DTPHandler
    if certificate is not None:
        from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler

        base_handler = TLS_FTPHandler
        base_dtp = TLS_DTPHandler

    class DTP(base_dtp):  # type: ignore[misc, valid-type]
        read_limit = throttle_bytes_per_second or 0
        write_limit = throttle_bytes_per_second or 0

        def _maybe_cut(self, transferred: int) -> bool:
            if cut_data_after_bytes is None or transferred < cut_data_after_bytes:
                return False
            with stats.lock:
                if stats.cuts_left <= 0:
                    return False
                stats.cuts_left -= 1
            self._resp = ("426 Connection cut by the test server.", lambda *_: None)
            self.close()
            return True

        def _maybe_hold(self, transferred: int) -> None:
            if hold_after_bytes is None or transferred < hold_after_bytes:
                return
            if self.file_obj is None:
                return  # a listing, not a file
            with stats.lock:
                if stats.held.is_set():
                    return
                stats.held.set()
            if not self.file_obj.closed and self.file_obj.writable():
                self.file_obj.flush()  # what arrived so far is on disk while held
            # Bounded: a test that forgets to release fails on its client's timeout.
            stats.release.wait(timeout=60)

        def send(self, data: bytes) -> int:
            sent: int = super().send(data)
            if not self._maybe_cut(self.tot_bytes_sent):
                self._maybe_hold(self.tot_bytes_sent)
            return sent

        def handle_read_event(self) -> None:  # what pyftpdlib's event loop calls
            super().handle_read_event()
            if not self._maybe_cut(self.tot_bytes_received):
                self._maybe_hold(self.tot_bytes_received)

        def handle_ssl_established(self) -> None:
            from OpenSSL._util import lib as openssl  # SSL_session_reused is not in pyOpenSSL

            reused = bool(openssl.SSL_session_reused(self.socket._ssl))
            with stats.lock:
                stats.data_connections += 1
                stats.reused_tls_sessions += reused
            if require_tls_reuse and not reused:
                with stats.lock:
                    stats.refused_tls_data += 1
                self._resp = ("522 SSL connection failed: session reuse required", lambda *_: None)
                self.close()

    class FakeNamesFS(AbstractedFS):
        def listdir(self, path: str) -> list[str]:
            return [*super().listdir(path), *fake_names]

        def _fake_stat(self, path: str, real: Any) -> Any:
            try:
                return real(path)
            except OSError:
                if os.path.basename(path) in fake_names or path.endswith(fake_names):
                    return os.stat(__file__)
                raise

        def lstat(self, path: str) -> Any:
            return self._fake_stat(path, super().lstat)

        def stat(self, path: str) -> Any:
            return self._fake_stat(path, super().stat)

    proto_cmds = dict(base_handler.proto_cmds)
    if not mlsd:
        proto_cmds.pop("MLSD", None)
        proto_cmds.pop("MLST", None)

    class ClosedPassiveDTP(base_handler.passive_dtp):  # type: ignore[misc, name-defined]
        def __init__(self, cmd_channel: Any, extmode: bool = False) -> None:
            super().__init__(cmd_channel, extmode)  # binds, listens, answers 227/229
            self.close()  # ... and the port is gone: connecting to it is refused

    class Handler(base_handler):  # type: ignore[misc, valid-type]
        dtp_handler = DTP
        passive_dtp = ClosedPassiveDTP if passive_port_closed else base_handler.passive_dtp
        abstracted_fs = FakeNamesFS if fake_names else AbstractedFS
        auth_failed_timeout = 0  # answer a wrong password at once (pyftpdlib waits 3 s)
        use_sendfile = False  # so that DTP.send sees every byte (cuts, counting)
        banner = "ftpbridge test server ready."

        def process_command(self, cmd: str, *args: Any, **kwargs: Any) -> None:
            with stats.lock:
                stats.commands[cmd] += 1
            super().process_command(cmd, *args, **kwargs)

        def on_login_failed(self, username: str, password: str) -> None:
            with stats.lock:
                stats.failed_logins += 1

        def ftp_RNTO(self, path: str) -> Any:
            source = getattr(self, "_rnfr", None)
            if (
                refuse_cross_directory_rename
                and source
                and os.path.dirname(source) != os.path.dirname(path)
            ):
                self._rnfr = None
                self.respond("550 Rename across directories is not allowed.")
                return None
            if refuse_rename_overwrite and source and os.path.exists(path):
                self._rnfr = None
                self.respond("550 Rename failed: target exists.")
                return None
            return super().ftp_RNTO(path)

    Handler.proto_cmds = proto_cmds
    Handler.authorizer = authorizer
    if customise is not None:
        Handler = customise(Handler)
    if certificate is not None:
        Handler.certfile = str(certificate.cert_file)
        Handler.ssl_context = None  # built per class from certfile by get_ssl_context()
        Handler.tls_control_required = True
        Handler.tls_data_required = True

    # An IOLoop of its own: the default is a process-wide singleton, and close_all() closes
    # it, which would stop every other server of the test session too.
    server = ThreadedFTPServer((LOOPBACK, 0), Handler, ioloop=IOLoop())
    # ThreadedFTPServer keeps its stop flag and lock on the class: stopping one server would
    # end the connections of every other. Give this one its own.
    server._exit = threading.Event()
    server._lock = threading.Lock()
    server.poll_timeout = 0.1
    server.join_timeout = 2
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"timeout": 0.1, "handle_exit": False},
        name="test-ftp-server",
        daemon=True,
    )
    thread.start()
    host, port = server.address[:2]
    return FTPServer(
        host=host,
        port=port,
        home=home,
        username=username,
        password=password,
        kind="ftps" if certificate else "ftp",
        ca_file=certificate.ca_file if certificate else None,
        stats=stats,
        _server=server,
        _thread=thread,
    )


# --- OpenSSH sshd ---------------------------------------------------------------------------


def ensure_test_user(name: str = SFTP_USER, password: str = SFTP_PASSWORD) -> pwd.struct_passwd:
    """Create system user ``name`` with ``password`` if missing, and (re)set the password.

    Idempotent; needs root. The user has no home and no shell: it only does SFTP.
    """
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", name],
            check=True, capture_output=True,
        )  # fmt: skip
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    return pwd.getpwnam(name)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def notify_listener(address: Path) -> Iterator[list[str]]:
    """A systemd notify socket (AF_UNIX datagrams) at ``address``: yields the list the
    messages a service sends are appended to, as they arrive; closed on exit."""
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(address))
    receiver.settimeout(0.2)
    messages: list[str] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                messages.append(receiver.recv(4096).decode())
            except TimeoutError:
                continue

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        yield messages
    finally:
        done.set()
        listener.join()
        receiver.close()


def wait_for(
    condition: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.05
) -> Any:
    """Wait until ``condition()`` is truthy (bounded) and return it; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_port(
    port: int, timeout: float = 10.0, process: subprocess.Popen[Any] | None = None
) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections; raise RuntimeError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server process exited with {process.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {LOOPBACK}:{port} after {timeout} s")


def _keygen(path: Path, key_type: str, passphrase: str = "") -> Path:
    arguments = ["ssh-keygen", "-q", "-t", key_type, "-N", passphrase, "-C", "", "-f", str(path)]
    if key_type == "rsa":
        arguments[4:4] = ["-b", "2048"]
    subprocess.run(arguments, check=True, capture_output=True)
    return path


def ssh_fingerprint(public_key_file: Path) -> str:
    """Return the SHA256 fingerprint OpenSSH's own ``ssh-keygen -l`` prints for a key."""
    output = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key_file)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return output.split()[1]


# sshd's (LogLevel VERBOSE) lines for a connection's start and end, with the client port.
_SSHD_OPENED = re.compile(r"^Connection from \S+ port (\d+) on ")
_SSHD_CLOSED = re.compile(
    r"^(?:Connection closed by|Disconnected from|Connection reset by|Timeout before"
    r" authentication for|Received disconnect from)\b.*? port (\d+)\b"
)


@dataclass
class SSHServer:
    """A running sshd with a chrooted, SFTP-only test user."""

    host: str
    port: int
    username: str
    password: str
    directory: Path  # config, keys, log
    chroot: Path  # root-owned; SFTP "/" of the test user
    upload_dir: Path  # chroot/upload, owned by the test user; SFTP "/upload"
    remote_root: str
    host_keys: dict[str, Path]  # "ed25519"/"rsa" -> private key file (".pub" next to it)
    client_keys: dict[str, tuple[Path, str | None]]  # type -> (private key, passphrase)
    known_hosts: Path
    log_file: Path
    process: subprocess.Popen[bytes]
    uid: int
    gid: int

    def params(self, **overrides: Any) -> ConnectionParams:
        """Return ConnectionParams (password auth, trusted host key); ``overrides`` replace."""
        params = ConnectionParams(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            known_hosts=self.known_hosts,
            timeout=10.0,
        )
        return replace(params, **overrides)

    def known_hosts_line(self, key_type: str = "ed25519", port: int | None = None) -> str:
        """Return a known_hosts line for this server's ``key_type`` host key."""
        kind, blob = self.host_keys[key_type].with_suffix(".pub").read_text().split()[:2]
        return f"[{self.host}]:{port or self.port} {kind} {blob}"

    def log(self) -> str:
        """Return what sshd logged so far (LogLevel VERBOSE)."""
        return self.log_file.read_text(errors="replace")

    def failed_password_count(self, since: int = 0) -> int:
        """Return how many password attempts sshd rejected (after log offset ``since``)."""
        return self.log()[since:].count("Failed password for")

    def log_mark(self) -> int:
        """The log's length now: pass it as ``since`` to look only at what comes after."""
        return len(self.log())

    def open_connections(self, since: int = 0) -> set[int]:
        """Client ports of the connections opened after log offset ``since`` whose end
        sshd has not logged yet. sshd logs a connection's lines (e.g. "Failed password")
        in order, before its "Connection closed"/"Disconnected" line: once a client has
        hung up and this set is empty, everything those connections did is in the log."""
        opened: set[int] = set()
        closed: set[int] = set()
        for line in self.log()[since:].splitlines():
            if match := _SSHD_OPENED.search(line):
                opened.add(int(match[1]))
            elif match := _SSHD_CLOSED.search(line):
                closed.add(int(match[1]))
        return opened - closed

    def chown_to_user(self, path: Path) -> None:
        """Give ``path`` to the SFTP test user (files created by the root test process)."""
        os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def stop(self) -> None:
        """Terminate sshd (and its session processes) and remove its directory."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Session processes of a terminated sshd end with their connections.
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _sshd_binary() -> str:
    for candidate in ("/usr/sbin/sshd", shutil.which("sshd")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("OpenSSH's sshd is not installed (apt-get install openssh-server)")


def _sshd_accepts(sshd: str, config: Path) -> bool:
    result = subprocess.run([sshd, "-t", "-f", str(config)], capture_output=True, check=False)
    return result.returncode == 0


def start_sshd(
    *, extra_config: str = "", host_key_types: tuple[str, ...] = ("ed25519", "rsa")
) -> SSHServer:
    """Start ``sshd -D -e`` on a free port with its own config, host keys and test user.

    The test user (``ftpbridge-sftp-test``, created if missing) logs in by password or by
    one of three client keys (ed25519 without passphrase, rsa and ecdsa with
    ``KEY_PASSPHRASE``), and is chrooted by ``internal-sftp`` to a root-owned directory
    whose ``upload`` subdirectory it owns. ``extra_config`` lines go before the ``Match``
    block (e.g. to restrict algorithms). Needs root. Call ``stop()`` when done.
    """
    sshd = _sshd_binary()
    user = ensure_test_user()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    SSHD_PARENT.mkdir(mode=0o755, parents=True, exist_ok=True)
    SSHD_PARENT.chmod(0o755)
    directory = Path(tempfile.mkdtemp(prefix="sshd-", dir=SSHD_PARENT))
    directory.chmod(0o755)
    chroot = directory / "chroot"
    chroot.mkdir(mode=0o755)
    upload_dir = chroot / SFTP_REMOTE_ROOT.strip("/")
    upload_dir.mkdir(mode=0o755)
    os.chown(upload_dir, user.pw_uid, user.pw_gid)

    host_keys = {kind: _keygen(directory / f"ssh_host_{kind}_key", kind) for kind in host_key_types}
    client_keys: dict[str, tuple[Path, str | None]] = {
        "ed25519": (_keygen(directory / "client_ed25519", "ed25519"), None),
        "rsa": (_keygen(directory / "client_rsa", "rsa", KEY_PASSPHRASE), KEY_PASSPHRASE),
        "ecdsa": (_keygen(directory / "client_ecdsa", "ecdsa", KEY_PASSPHRASE), KEY_PASSPHRASE),
    }
    authorized = directory / "authorized_keys"
    authorized.write_text(
        "".join(path.with_suffix(".pub").read_text() for path, _ in client_keys.values())
    )
    authorized.chmod(0o644)

    port = free_port()
    host_key_lines = "".join(f"HostKey {path}\n" for path in host_keys.values())
    config_text = (
        f"Port {port}\nListenAddress {LOOPBACK}\n{host_key_lines}"
        "PidFile none\nUsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\n"
        f"AuthorizedKeysFile {authorized}\nStrictModes no\nPermitRootLogin no\n"
        f"AllowUsers {user.pw_name}\nLogLevel VERBOSE\nMaxAuthTries 10\nMaxStartups 50\n"
        "Subsystem sftp internal-sftp\n"
        f"{extra_config}\n"
        "{penalties}"
        f"Match User {user.pw_name}\n"
        f"    ChrootDirectory {chroot}\n    ForceCommand internal-sftp\n"
        "    AllowTcpForwarding no\n    X11Forwarding no\n"
    )
    config = directory / "sshd_config"
    # OpenSSH 9.8+ punishes addresses that fail to log in: tests fail logins on purpose.
    config.write_text(config_text.replace("{penalties}", "PerSourcePenalties no\n"))
    if not _sshd_accepts(sshd, config):
        config.write_text(config_text.replace("{penalties}", ""))
    log_file = directory / "sshd.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(config), "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = SSHServer(
        host=LOOPBACK,
        port=port,
        username=user.pw_name,
        password=SFTP_PASSWORD,
        directory=directory,
        chroot=chroot,
        upload_dir=upload_dir,
        remote_root=SFTP_REMOTE_ROOT,
        host_keys=host_keys,
        client_keys=client_keys,
        known_hosts=directory / "known_hosts",
        log_file=log_file,
        process=process,
        uid=user.pw_uid,
        gid=user.pw_gid,
    )
    try:
        wait_for_port(port, process=process)
    except RuntimeError as error:
        server.stop()
        raise RuntimeError(f"sshd did not start: {error}\n{log_file.read_text()}") from error
    server.known_hosts.write_text(
        "".join(server.known_hosts_line(kind) + "\n" for kind in host_key_types)
    )
    return server


# --- one transport and a directory of its own, for contract tests -----------------------


@dataclass
class TransportCase:
    """One transport under test, and a fresh directory for the test on its server.

    ``directory`` is the remote path of that directory; ``disk`` is the same directory on
    the server's disk, for creating files behind the transport's back.
    """

    name: str
    kind: str
    params: ConnectionParams
    directory: str
    disk: Path
    owner: tuple[int, int] | None = None  # files created on disk go to this uid/gid

    def open(self, **overrides: Any) -> Transport:
        """Return an unconnected transport for this case."""
        return open_transport(self.kind, replace(self.params, **overrides))

    def remote(self, name: str) -> str:
        """Return the remote path of ``name`` inside the test directory."""
        return f"{self.directory}/{name}"

    def put(self, name: str | bytes, content: bytes = b"") -> Path:
        """Create a file in the test directory directly on the server's disk."""
        disk_name = name if isinstance(name, bytes) else name.encode()
        path = self.disk / os.fsdecode(disk_name)
        path.write_bytes(content)
        self.give(path)
        return path

    def give(self, path: Path) -> None:
        """Hand a file created on disk to the server's user (sftp runs as a real user)."""
        if self.owner is not None:
            os.chown(path, *self.owner, follow_symlinks=False)


# --- a TCP proxy that cuts connections ------------------------------------------------------


class CuttingProxy:
    """Forward 127.0.0.1:``port`` to a target port, and cut connections on demand.

    ``cut_after_bytes``: the first ``cuts`` connections are closed after that many bytes
    flowed from the server to the client. ``cut_all()`` closes every open connection now.
    """

    def __init__(self, target_port: int, *, cut_after_bytes: int | None = None, cuts: int = 1):
        self.target_port = target_port
        self.cut_after_bytes = cut_after_bytes
        self.cuts_left = cuts if cut_after_bytes is not None else 0
        self.connections = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="cutting-proxy", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((LOOPBACK, self.target_port))
            with self._lock:
                self.connections += 1
                cut = self.cuts_left > 0
                self.cuts_left -= cut
                self._sockets += [client, upstream]
            limit = self.cut_after_bytes if cut else None
            pair = (client, upstream)
            threading.Thread(
                target=self._pump, args=(upstream, client, limit, pair), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(client, upstream, None, pair), daemon=True
            ).start()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        limit: int | None,
        pair: tuple[socket.socket, socket.socket],
    ) -> None:
        moved = 0
        try:
            while chunk := source.recv(65536):
                if limit is not None and moved + len(chunk) >= limit:
                    break
                sink.sendall(chunk)
                moved += len(chunk)
        except OSError:
            pass
        for end in pair:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def cut_all(self) -> None:
        """Close every connection currently going through the proxy."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for end in sockets:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """Stop accepting and cut everything."""
        self._closed.set()
        self._listener.close()
        self.cut_all()
