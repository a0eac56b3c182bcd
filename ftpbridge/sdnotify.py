"""Tell systemd how the daemon is doing: sd_notify(3) in a few lines over an AF_UNIX datagram.

Every function returns ``True`` when the message was handed to systemd and ``False`` when we
are not running under systemd (no ``$NOTIFY_SOCKET``) or sending failed. None of them raises:
a daemon must not die because its supervisor went away. A failure to send is logged as a
warning once per socket address, not on every watchdog ping.

We do not use the ``sdnotify`` package: it swallows every error silently and knows nothing of
``WATCHDOG_USEC``.
"""

from __future__ import annotations

import os
import socket
import time

import structlog

__all__ = [
    "notify",
    "ready",
    "reloading",
    "status",
    "stopping",
    "watchdog",
    "watchdog_interval",
]

log = structlog.get_logger(__name__)

# Socket addresses a failure was already reported for (one warning each, not one per ping).
_warned: set[str] = set()


def _warn_once(address: str, reason: str) -> None:
    if address in _warned:
        return
    _warned.add(address)
    log.warning(
        "cannot notify systemd; later failures to this socket are not logged",
        notify_socket=address,
        reason=reason,
    )


def notify(message: str) -> bool:
    """Send *message* (``KEY=VALUE`` lines, e.g. ``"READY=1"``) to ``$NOTIFY_SOCKET``.

    A leading ``@`` in the address names a socket in the abstract namespace. Returns ``False``
    when the variable is unset or empty, when the address is not one we can reach (systemd
    also allows ``vsock:`` addresses, which a service on the host never gets), or when sending
    fails; never raises.
    """
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        target = "\0" + address[1:]
    elif address.startswith("/"):
        target = address
    else:
        _warn_once(address, "unsupported NOTIFY_SOCKET address (only paths and @abstract)")
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(message.encode("utf-8"))
    except OSError as error:
        _warn_once(address, f"{type(error).__name__}: {error}")
        return False
    return True


def ready() -> bool:
    """Tell systemd start-up is finished (``READY=1``); ``Type=notify`` waits for this."""
    return notify("READY=1")


def reloading() -> bool:
    """Tell systemd a reload (SIGHUP) started; send ``ready()`` when it is done.

    ``MONOTONIC_USEC`` is required by ``Type=notify-reload`` and harmless otherwise.
    """
    monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(f"RELOADING=1\nMONOTONIC_USEC={monotonic_usec}")


def stopping() -> bool:
    """Tell systemd the service is shutting down (``STOPPING=1``)."""
    return notify("STOPPING=1")


def watchdog() -> bool:
    """Ping the watchdog (``WATCHDOG=1``); call it every ``watchdog_interval()`` seconds."""
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    """Set the one-line status ``systemctl status`` shows (``STATUS=...``).

    Line breaks in *text* would end the assignment early, so they become spaces.
    """
    one_line = " ".join(text.splitlines())
    return notify(f"STATUS={one_line}")


def watchdog_interval() -> float | None:
    """Return how often to call ``watchdog()``, in seconds, or ``None`` if no watchdog is set.

    That is half of ``$WATCHDOG_USEC``, as sd_watchdog_enabled(3) advises. ``None`` too when
    the value is not a positive integer, or when ``$WATCHDOG_PID`` is set and names another
    process (the variables were inherited, the watchdog is not ours).
    """
    watchdog_pid = os.environ.get("WATCHDOG_PID", "")
    if watchdog_pid:
        try:
            if int(watchdog_pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000
