"""Task speed on the embedded model: every task of the chosen profile, cold then cached.

`pytest benchmarks/test_task_speed.py -s` measures the quick profile (target: all 13 tasks
cold in at most 2 minutes on 2 CPU cores); add `--crossrisk-profile full` for every item.
Per task: seconds cold and cached, items, tokens read and generated per second.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.perf, pytest.mark.slow]


def test_all_tasks_cold_then_cached(benchmark, crossrisk_settings, tmp_path: Path) -> None:
    from crossrisk_bench.models.cache import ResponseCache
    from crossrisk_bench.models.loader import load_backend
    from crossrisk_bench.tasks import TASKS

    backend = load_backend(crossrisk_settings.model, cache_dir=crossrisk_settings.cache_dir, use_cache=False,
                           batch_size=crossrisk_settings.batch_size, threads=crossrisk_settings.threads)
    backend.cache = ResponseCache(tmp_path / "responses.sqlite")
    rows = []
    cold_total = 0.0
    for task in TASKS:
        before = (backend.stats.prompt_tokens, backend.stats.new_tokens)
        start = time.perf_counter()
        result = task.evaluate(backend, limit=crossrisk_settings.limit)
        seconds = time.perf_counter() - start
        cold_total += seconds
        read, generated = backend.stats.prompt_tokens - before[0], backend.stats.new_tokens - before[1]
        rows.append((task.name, result.n, seconds, read, generated, result.value))

    def cached_run() -> list[float]:
        return [task.evaluate(backend, limit=crossrisk_settings.limit).value for task in TASKS]

    start = time.perf_counter()
    cached_values = cached_run()
    cached_total = time.perf_counter() - start
    benchmark.pedantic(cached_run, rounds=1, iterations=1)
    backend.cache.close()
    assert cached_values == [row[5] for row in rows], "cached results must equal the cold ones"
    assert backend.stats.computed > 0

    print(f"\nprofile {crossrisk_settings.profile} ({crossrisk_settings.limit or 'all'} items per task), "
          f"{backend.threads} threads, batch {backend.batch_size}")
    print(f"{'task':22s} {'items':>5s} {'cold s':>7s} {'read tok/s':>10s} {'new tok/s':>9s}")
    for name, n, seconds, read, generated, _ in rows:
        print(f"{name:22s} {n:5d} {seconds:7.1f} {read / seconds:10.0f} {generated / seconds:9.1f}")
    print(f"{'all tasks':22s} {sum(r[1] for r in rows):5d} {cold_total:7.1f}   cached re-run {cached_total:.2f} s "
          f"({cached_total / cold_total:.2%} of cold)")
    benchmark.extra_info.update(profile=crossrisk_settings.profile, cold_seconds=cold_total, cached_seconds=cached_total,
                                per_task={name: {"items": n, "cold_seconds": s, "tokens_read": r, "tokens_generated": g}
                                          for name, n, s, r, g, _ in rows})
