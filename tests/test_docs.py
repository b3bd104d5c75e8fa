"""The README and docs/*.md: relative links resolve, nothing points outside the repository, the
README stays a short user guide.

A relative link (Markdown `[text](path)` or `[text](path#anchor)`) must name a file or folder
that exists in the repository; web links and in-page anchors are not checked. docs/judges.md and
docs/faults.md are written on other branches and arrive by merge: a link to either is exempt
only while the file is missing, and checked like any other once it exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_README_LINES = 400
ARRIVE_BY_MERGE = {ROOT / "docs" / "judges.md", ROOT / "docs" / "faults.md"}

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def _pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def _links(text: str) -> list[str]:
    return LINK.findall(FENCE.sub("", text))


def _is_relative(target: str) -> bool:
    return not (target.startswith("#") or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target))


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _links(page.read_text(encoding="utf-8")):
        if not _is_relative(target):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if path in ARRIVE_BY_MERGE and not path.exists():
            continue
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: broken relative links: {broken}"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_outside_the_repository(page: Path) -> None:
    lines = [
        f"{page.relative_to(ROOT)}:{n}"
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if "../shared" in line
    ]
    assert not lines, f"'../shared' is outside the repository: {lines}"


def test_readme_is_short() -> None:
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_README_LINES, (
        f"README.md has {n} lines; move reference material to docs/ (at most {MAX_README_LINES})"
    )


def test_link_check_catches_a_broken_link() -> None:
    text = (
        "[ok](README.md) [web](https://example.org) [anchor](#x)\n```\n[in a fence](nowhere.md)\n```\n[bad](nope.md#y)"
    )
    links = [t for t in _links(text) if _is_relative(t)]
    assert links == ["README.md", "nope.md#y"]
