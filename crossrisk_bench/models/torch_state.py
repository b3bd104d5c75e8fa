"""Process-wide torch state, set for a block of work and restored after it.

torch's intra-op thread count and its global random generators belong to the whole process: a
backend that set the count when it was built, or a training run that seeded the generators,
would leave them set for everything else the process runs (another backend, a judge's encoder,
the caller's own torch code) long after. So each piece of torch work sets what it needs around
itself and puts the caller's state back: `torch_threads` (skipped when the count already holds,
so nested or repeated blocks cost nothing) and `forked_rng`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# the thread count the run asked for (`--crossrisk-threads`), within `run_threads` blocks only
_RUN_THREADS: ContextVar[int | None] = ContextVar("crossrisk_run_threads", default=None)


@contextmanager
def run_threads(threads: int | None) -> Iterator[None]:
    """Within the block, torch work that has no thread count of its own (a judge's encoder) uses
    `threads` (None: the default share); the run's session wraps its evaluations in it."""
    token = _RUN_THREADS.set(threads)
    try:
        yield
    finally:
        _RUN_THREADS.reset(token)


def default_threads() -> int:
    """The run's `--crossrisk-threads` inside `run_threads`, else all cores for a serial run and
    an equal share of them for each pytest-xdist worker."""
    chosen = _RUN_THREADS.get()
    if chosen:
        return chosen
    cores = os.cpu_count() or 1
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return max(1, cores // max(1, workers))


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Within the block torch computes on `threads` threads; the caller's count is restored after."""
    import torch

    previous = torch.get_num_threads()
    if threads != previous:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


@contextmanager
def forked_rng() -> Iterator[None]:
    """Within the block `torch.manual_seed` and every draw from the global generators are the
    block's own: the CPU generator and those of the CUDA devices in use are restored after it."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        yield
