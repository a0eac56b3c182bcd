"""The Orders API from another language's standard tools: ``ftpbridge demo --keep``'s curl
line run as printed with the real curl, and a shell script (tests/web/curl_flow.sh) doing
a fulfiller's round with curl alone."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from tests.runs import FTPBRIDGE
from tests.servers import wait_for
from tests.web.conftest import Api

CURL = shutil.which("curl")
SCRIPT = Path(__file__).with_name("curl_flow.sh")


def test_the_demo_prints_a_curl_line_that_works() -> None:
    """demo --keep serves the API and prints one curl line; run exactly as printed (by the
    real curl), it answers the fulfiller's items not shipped; Ctrl+C stops the demo."""
    assert CURL, "curl is not installed (apt-get install curl)"
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
        for line in demo.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        curl_line = wait_for(
            lambda: next(
                (line.strip() for line in lines if line.strip().startswith("curl ")), None
            ),
            "the demo's curl line",
            timeout=120,
        )
        wait_for(lambda: any("Press Ctrl+C" in line for line in lines), "the demo to wait")
        finished = subprocess.run(
            shlex.split(curl_line), capture_output=True, text=True, timeout=60, check=False
        )
        assert finished.returncode == 0, finished.stderr
        body = json.loads(finished.stdout)
        assert body["status"] == "ok"
        waiting = [item for order in body["response"] for item in order["items"]]
        assert len(waiting) == 3 and not any(item["shipped"] for item in waiting)
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=60)
        reader.join(timeout=10)
    assert code == 0
    assert "Traceback" not in "".join(lines)


def test_a_fulfillers_round_with_curl(api: Api) -> None:
    """tests/web/curl_flow.sh: View Orders with set_acknowledged (form fields, -u key),
    Update Orders (JSON body), then the shipped ones, each checked with grep."""
    assert CURL, "curl is not installed (apt-get install curl)"
    finished = subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "API": api.service.url, "KEY": api.keys["acme-wms"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == "curl flow: ok"
