"""Task speed on the embedded model: each task of the chosen profile, cold then cached.

`pytest benchmarks/test_task_speed.py -s --crossrisk-perf` measures the quick profile (target: all 13 tasks
cold in at most 2 minutes on 2 CPU cores); add `--crossrisk-profile full` for every item, or
`-m privacy` for one risk's tasks. Per task: seconds cold and cached, items, tokens read and
generated per second (in pytest-benchmark's `extra_info` and printed with `-s`).
"""

from __future__ import annotations

import time

import pytest

from crossrisk_bench.tasks import TASKS

pytestmark = [pytest.mark.perf, pytest.mark.slow]


@pytest.fixture(scope="module")
def cold_backend(crossrisk_settings, tmp_path_factory):
    """One model for the module with an empty cache of its own: every first evaluation is cold."""
    from crossrisk_bench.models.cache import CachedBackend, ResponseCache
    from crossrisk_bench.models.loader import load_backend

    engine = load_backend(
        crossrisk_settings.model,
        cache_dir=crossrisk_settings.cache_dir,
        use_cache=False,
        batch_size=crossrisk_settings.batch_size,
        threads=crossrisk_settings.threads,
    )
    backend = CachedBackend(engine, ResponseCache(tmp_path_factory.mktemp("task-speed") / "responses.sqlite"))
    yield backend
    backend.cache.close()


@pytest.mark.parametrize("task", [pytest.param(t, id=t.name, marks=getattr(pytest.mark, t.risk.value)) for t in TASKS])
def test_task_cold_then_cached(benchmark, cold_backend, crossrisk_settings, task) -> None:
    stats = cold_backend.stats
    before = (stats.prompt_tokens, stats.new_tokens, stats.computed)
    start = time.perf_counter()
    cold = task.evaluate(cold_backend, limit=crossrisk_settings.limit)
    cold_seconds = time.perf_counter() - start
    read, generated, computed = (
        stats.prompt_tokens - before[0],
        stats.new_tokens - before[1],
        stats.computed - before[2],
    )
    start = time.perf_counter()
    cached = task.evaluate(cold_backend, limit=crossrisk_settings.limit)
    cached_seconds = time.perf_counter() - start
    benchmark.pedantic(
        task.evaluate, args=(cold_backend,), kwargs={"limit": crossrisk_settings.limit}, rounds=1, iterations=1
    )
    assert cached == cold, "a cached re-run must give the same result"
    assert stats.computed - before[2] == computed, "a cached re-run must compute nothing"
    benchmark.extra_info.update(
        task=task.name,
        items=cold.n,
        cold_seconds=cold_seconds,
        cached_seconds=cached_seconds,
        tokens_read=read,
        tokens_generated=generated,
        value=cold.value,
    )
    print(
        f"\n{task.name:22s} {cold.n:4d} items  cold {cold_seconds:6.1f} s  cached {cached_seconds * 1000:6.1f} ms "
        f"({cached_seconds / cold_seconds:.2%})  read {read / cold_seconds:6.0f} tok/s  "
        f"generated {generated / cold_seconds:5.1f} tok/s  {task.metric} = {cold.value:.3f}"
    )
