"""The import rule of docs/architecture.md, as lint-imports checks it (pyproject.toml,
[tool.importlinter]): it holds for ftpbridge/, and it fails when a lower layer imports a
higher one or a module sits in no layer. The breaking cases run on a copy of the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the repository's contracts on the ``ftpbridge`` package found
    in ``package_parent`` (it comes first on the path, before the installed one)."""
    environment = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=package_parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of ftpbridge/ to break on purpose; returns the folder holding it."""
    shutil.copytree(
        ROOT / "ftpbridge", tmp_path / "ftpbridge", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def test_the_package_keeps_every_contract(copy: Path) -> None:
    """ftpbridge/ as it is: every contract kept (what scripts/test runs, here on a copy)."""
    result = lint_imports(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("store/schema.py", "ftpbridge.files.layouts"),  # store -> files
        ("transport/base.py", "ftpbridge.exchange.partners"),  # transport -> exchange
        ("files/rows.py", "ftpbridge.cli.app"),  # files -> edges
        ("errors.py", "ftpbridge.settings"),  # errors imports nothing of ftpbridge
        ("store/engine.py", "ftpbridge.settings"),  # store gets plain values
        ("transport/local.py", "ftpbridge.store.engine"),  # siblings that must not meet
        ("files/importing.py", "ftpbridge.files.exporting"),  # importing stays apart
        ("files/reading.py", "ftpbridge.transport.base"),  # files never touch the network
    ],
)
def test_an_import_against_the_rule_breaks_a_contract(copy: Path, module: str, upward: str) -> None:
    """One import against the rule, and lint-imports fails naming it."""
    path = copy / "ftpbridge" / module
    path.write_text(path.read_text() + f"\nimport {upward}  # noqa: E402, F401\n")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout
    importer = "ftpbridge." + module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {upward}" in result.stdout


def test_a_module_in_no_layer_breaks_the_layers_contract(copy: Path) -> None:
    """A new top-level module must be placed in a layer on purpose (exhaustive)."""
    (copy / "ftpbridge" / "newcomer.py").write_text('"""Not placed yet."""\n')
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout
    assert "ftpbridge.newcomer" in result.stdout
