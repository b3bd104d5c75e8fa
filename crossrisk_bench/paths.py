"""Where the suite's own files live: the repository's `fixtures/` beside the package."""

from __future__ import annotations

from pathlib import Path

from crossrisk_bench.errors import CrossriskError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ITEMS = FIXTURES / "items"


def items_path(name: str) -> Path:
    path = ITEMS / f"{name}.jsonl"
    if not path.is_file():
        raise CrossriskError(f"embedded items {path} are missing; run `crossrisk items build` in the repository")
    return path
