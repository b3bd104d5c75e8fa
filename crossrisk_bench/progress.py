"""Progress bars for long generation and training loops.

Quiet when stderr is not a terminal (CI logs, pipes) or inside a pytest-xdist worker, whose
output the controller would interleave; `CROSSRISK_PROGRESS=1` or `0` forces it either way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def progress_enabled() -> bool:
    forced = os.environ.get("CROSSRISK_PROGRESS")
    if forced in {"0", "1"}:
        return forced == "1"
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return False
    return sys.stderr.isatty()


@contextmanager
def progress_bar(total: int, desc: str, unit: str = "it") -> Iterator[Any]:
    """Yield an object with `update(n)`; a tqdm bar when enabled, a no-op otherwise."""
    if not progress_enabled() or total <= 0:
        yield _Silent()
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass
