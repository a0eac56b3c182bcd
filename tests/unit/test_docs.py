"""The documentation's links: every relative link of README.md and docs/*.md names a file
that exists inside the repository (the README once linked ../shared/ARCHITECTURE.md, a file
outside it that a clone does not have)."""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
# [text](target) and [text]: target, not images of remote sites nor in-page anchors.
_LINK = re.compile(r"\[[^\]]*\]\((?P<inline>[^)\s]+)\)|^\[[^\]]+\]:\s*(?P<reference>\S+)", re.M)


def _relative_links(document: Path) -> list[str]:
    text = document.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    targets = [match.group("inline") or match.group("reference") for match in _LINK.finditer(text)]
    return [
        target.split("#", 1)[0]
        for target in targets
        if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
    ]


def test_relative_links_stay_inside_the_repository_and_exist() -> None:
    """Each relative link resolves to an existing file or folder of this repository."""
    documents = [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]
    checked = 0
    for document in documents:
        for target in _relative_links(document):
            resolved = (document.parent / target).resolve()
            assert resolved.is_relative_to(REPOSITORY), f"{document.name}: {target} is outside"
            assert resolved.exists(), f"{document.name}: {target} does not exist"
            checked += 1
    assert checked >= 2  # the README links config.example.toml and docs/architecture.md


def test_the_architecture_page_is_in_docs() -> None:
    """The layout page lives in docs/ and the README points at it."""
    assert (REPOSITORY / "docs" / "architecture.md").is_file()
    assert "](docs/architecture.md)" in (REPOSITORY / "README.md").read_text(encoding="utf-8")
