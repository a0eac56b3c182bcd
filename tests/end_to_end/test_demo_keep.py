"""``ftpbridge demo --keep`` cleans up after itself: Ctrl+C or SIGTERM stop its servers
and remove its temporary folder, which holds the store and the FTP password file; and the
commands it prints name an ftpbridge that can be typed as shown (issue 11 items 19, 22)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

_CHECKOUT = str(Path(__file__).resolve().parents[2])
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from tests.runs import FTPBRIDGE  # noqa: E402
from tests.servers import wait_for  # noqa: E402


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_keep_removes_its_folder_when_stopped(stop: signal.Signals) -> None:
    """The folder with the store and the password file is gone after the stop (exit 0)."""
    demo = subprocess.Popen(
        [FTPBRIDGE, "demo", "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert demo.stdout is not None
        lines.extend(demo.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("Press Ctrl+C" in line for line in lines), "the demo", timeout=180)
        text = "".join(lines)
        password = Path(re.search(r"password in (\S+)", text).group(1))  # type: ignore[union-attr]
        folder = password.parent
        assert password.exists() and (folder / "ftpbridge.db").exists()
        run_line = next(line.strip() for line in lines if line.strip().endswith(" run"))
        assert run_line.split()[0] in ("ftpbridge", FTPBRIDGE)
        demo.send_signal(stop)
        code = demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        reader.join(timeout=10)
    assert code == 0, "".join(lines) + (demo.stderr.read() if demo.stderr else "")
    assert "Stopped." in "".join(lines)
    assert not folder.exists()
