"""Progress bars for long generation and training loops, with items done, rate and ETA.

Drawn on the controlling terminal (`/dev/tty`), not on stderr: pytest captures stderr while a
test runs, so a bar written there never shows during the minutes a cold run spends in one test.
A process without a terminal (CI, a pipe under nohup) has no `/dev/tty` and stays quiet, as does
any run with `CI` set; `CROSSRISK_PROGRESS=1` or `0` forces it either way (1 falls back to
stderr). Each pytest-xdist worker draws on its own line. `progress_label` names what the bars
are for (the gated cell), so a bar reads `refusal_sft / misuse: generating 40/88 [00:31<00:38]`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

_LABEL: ContextVar[str] = ContextVar("crossrisk_progress_label", default="")


@contextmanager
def progress_label(label: str) -> Iterator[None]:
    """Prefix the bars drawn inside this block with `label` (restored on exit)."""
    token = _LABEL.set(label)
    try:
        yield
    finally:
        _LABEL.reset(token)


def progress_stream() -> TextIO | None:
    """Where bars go: the terminal, stderr when forced, or None (quiet)."""
    forced = os.environ.get("CROSSRISK_PROGRESS")
    if forced == "0" or (forced is None and os.environ.get("CI")):
        return None
    try:
        return open("/dev/tty", "w")  # noqa: SIM115 - closed with the bar
    except OSError:
        return sys.stderr if forced == "1" else None


def progress_enabled() -> bool:
    stream = progress_stream()
    if stream is not None and stream is not sys.stderr:
        stream.close()
    return stream is not None


def _worker_line() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


@contextmanager
def progress_bar(total: int, desc: str, unit: str = "it") -> Iterator[Any]:
    """Yield an object with `update(n)`; a tqdm bar on the terminal when enabled, a no-op otherwise."""
    stream = progress_stream() if total > 0 else None
    if stream is None:
        yield _Silent()
        return
    from tqdm.auto import tqdm

    label = _LABEL.get()
    bar = tqdm(
        total=total,
        desc=f"{label}: {desc}" if label else desc,
        unit=unit,
        leave=False,
        dynamic_ncols=True,
        file=stream,
        position=_worker_line(),
        mininterval=0.5,
    )
    try:
        yield bar
    finally:
        bar.close()
        if stream is not sys.stderr:
            stream.close()


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass
