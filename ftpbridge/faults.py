"""Fault injection for tests — a test hook, documented, inert unless armed.

``crashpoint(step)`` kills the process with SIGKILL when the environment variable
``FTPBRIDGE_CRASH_AT`` names that step (e.g. ``FTPBRIDGE_CRASH_AT=apply``). It lets the
crash tests stop ftpbridge at every step of a poll or export cycle, exactly as a power cut
or ``kill -9`` would. When the variable is unset (always, in production) it does nothing.

Steps: list, download, parse, apply, commit, archive, report_upload, export_write,
upload, rename; the notification sender's notify_claim (events leased, not sent),
notify_send (sent, not recorded) and notify_mark (recorded, not committed).
"""

from __future__ import annotations

import os
import signal

ENVIRONMENT_VARIABLE = "FTPBRIDGE_CRASH_AT"


def crashpoint(step: str) -> None:
    """Die here, at once and uncleanly, if ``FTPBRIDGE_CRASH_AT`` names ``step``."""
    armed = os.environ.get(ENVIRONMENT_VARIABLE)
    if armed and step in armed.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
