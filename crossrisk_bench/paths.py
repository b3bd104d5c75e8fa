"""Where the suite's own files live: `fixtures/` inside the installed package (a wheel), else the
repository's `fixtures/` beside the package (a checkout or an editable install)."""

from __future__ import annotations

from pathlib import Path

from crossrisk_bench.errors import CrossriskError

_INSTALLED = Path(__file__).resolve().parent / "fixtures"  # inside the package, as a wheel installs them
FIXTURES = _INSTALLED if _INSTALLED.is_dir() else Path(__file__).resolve().parent.parent / "fixtures"
ITEMS = FIXTURES / "items"


def items_path(name: str) -> Path:
    path = ITEMS / f"{name}.jsonl"
    if not path.is_file():
        raise CrossriskError(f"embedded items {path} are missing; run `crossrisk items build` in the repository")
    return path
