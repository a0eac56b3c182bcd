"""Servers that lie and misbehave, and shares with odd entries (issue 12): pyftpdlib
handlers subclassed to lie (a size announced that is not what is sent, an endless RETR, a
trickle, an endless listing, a refusal of one file), OpenSSH with symlinks and FIFOs, a
local share with odd entries.

Each case proves the contract a user may rely on afterwards: never more than the limits
on disk or in memory, never a hung job, every other file taken, nothing lost or applied
twice; the figures go to ``scripts/reliability`` (``figures``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.conftest import Figures
from tests.reliability.support import (
    acme_on,
    cli,
    make_site,
)


def test_encrypted_key_without_passphrase_is_a_clear_error(
    tmp_path: Path, request: pytest.FixtureRequest, figures: Figures
) -> None:
    """An SFTP key protected by a passphrase (OpenSSH's own format, what ssh-keygen
    writes), with no passphrase configured: ``poll`` and ``check`` say which key file and
    which setting (``private_key_passphrase``), exit 3; never an internal error."""
    table, disk, owner, sshd = acme_on("sftp", tmp_path, request)
    key, _passphrase = sshd.client_keys["rsa"]
    table.update(password=None, private_key=str(key))
    del table["password"]
    site = make_site(tmp_path, {"acme": table}, {"acme": disk}, owners={"acme": owner})
    unhandled = 0
    for command in (["poll"], ["check", "--partner", "acme"]):
        result = cli(site, *command)
        output = result.stdout + result.stderr
        ok = (
            result.returncode == 3
            and str(key) in output
            and "private_key_passphrase" in output
            and "Internal error" not in output
        )
        unhandled += not ok
        assert ok, (command, result.returncode, output)
    figures.bad_input("encrypted SFTP key, no passphrase", tried=2, unhandled=unhandled)
