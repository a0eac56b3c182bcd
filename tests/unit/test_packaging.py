"""What the package says about itself: its version (written once) and its licence."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

from click.testing import CliRunner

import ftpbridge
from ftpbridge.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_written_once_and_read_everywhere() -> None:
    """pyproject.toml has no version of its own: it reads ftpbridge.__version__, which the
    installed metadata and ``ftpbridge --version`` both show."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ftpbridge.__version__"}
    assert importlib.metadata.version("ftpbridge") == ftpbridge.__version__
    shown = CliRunner().invoke(main, ["--version"])
    assert shown.exit_code == 0
    assert shown.output == f"ftpbridge, version {ftpbridge.__version__}\n"


def test_the_licence_is_mit_and_shipped() -> None:
    """LICENSE holds the MIT text for "ftpbridge contributors", as pyproject.toml says."""
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "ftpbridge contributors" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == {"text": "MIT"}


def test_every_package_of_the_source_tree_is_shipped() -> None:
    """pyproject.toml lists packages by hand: every folder of ftpbridge/ with an __init__.py
    is among them (a subpackage left out would be missing from an installed ftpbridge)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    source = ROOT / "ftpbridge"
    found = {
        ".".join(("ftpbridge", *init.parent.relative_to(source).parts))
        for init in source.rglob("__init__.py")
    }
    assert found - listed == set()


def test_the_consoles_templates_and_static_files_are_shipped() -> None:
    """Every template and static file of the console matches a package-data pattern (a
    file left out would be a broken page in an installed ftpbridge)."""
    import fnmatch

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["ftpbridge.web.console"]
    folder = ROOT / "ftpbridge" / "web" / "console"
    shipped = [
        path.relative_to(folder).as_posix()
        for kind in ("templates", "static")
        for path in (folder / kind).rglob("*")
        if path.is_file()
    ]
    assert shipped
    missing = [name for name in shipped if not any(fnmatch.fnmatch(name, p) for p in patterns)]
    assert missing == []
