"""Where the default run's time goes: load, merge, prefill, decode, scoring, judging.

`pytest benchmarks/test_run_split.py -s --crossrisk-perf` evaluates every task of the profile on
the base and on every defended model of the models file, cell by cell as the suite does
(`SuiteSession.gate`), from an empty response cache of its own; the converted
model is reused, as the default run's target assumes. Timers wrap the phases:

- load: `load_backend` (for the zoo base this includes merging the exposure adapter);
- merge: building each weights defense (copying the base, merging its adapter, fingerprinting);
- prefill and decode: the engine's continuous-batching passes (`models.decode`);
- scoring: log-likelihood passes;
- judging and the rest: everything else in the cells (judges, tokenising, rendering, the
  response cache, the statistics).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import replace

import pytest

pytestmark = [pytest.mark.perf, pytest.mark.slow]


def timed(totals: dict[str, float], phase: str, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[phase] += time.perf_counter() - start

    return wrapper


def timed_generator(totals: dict[str, float], phase: str, fn):
    def wrapper(*args, **kwargs):
        iterator = fn(*args, **kwargs)
        while True:
            start = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                totals[phase] += time.perf_counter() - start
                return
            totals[phase] += time.perf_counter() - start
            yield item

    return wrapper


def test_default_run_time_split(crossrisk_settings, tmp_path, monkeypatch) -> None:
    import crossrisk_bench.defenses.zoo as zoo
    import crossrisk_bench.session as session_module
    from crossrisk_bench.config.policy import load_policy
    from crossrisk_bench.models.decode import ContinuousDecoder
    from crossrisk_bench.models.hf import HFBackend
    from crossrisk_bench.tasks import TASKS

    if not crossrisk_settings.use_cache:
        pytest.skip("measures a run with a response cache")
    models = crossrisk_settings.cache_dir / "models"
    if models.is_dir():
        (tmp_path / "models").symlink_to(models)  # converted models are reused; responses start empty
    settings = replace(crossrisk_settings, cache_dir=tmp_path)
    totals: dict[str, float] = defaultdict(float)
    monkeypatch.setattr(session_module, "load_backend", timed(totals, "load", session_module.load_backend))
    monkeypatch.setattr(zoo, "apply_member", timed(totals, "merge", zoo.apply_member))
    for name, phase in (
        ("_prefix_cache", "prefill"),
        ("_prefill", "prefill"),
        ("_step", "decode"),
        ("_rebuild", "decode"),
    ):
        monkeypatch.setattr(ContinuousDecoder, name, timed(totals, phase, getattr(ContinuousDecoder, name)))
    monkeypatch.setattr(
        HFBackend, "run_loglikelihoods", timed_generator(totals, "scoring", HFBackend.run_loglikelihoods)
    )
    policy = load_policy(settings.policy_file, known_tasks=TASKS.names())
    session = session_module.SuiteSession(settings=replace(settings, policy=policy))
    start = time.perf_counter()
    session.base_backend()
    for spec in settings.defenses:
        session.defended_backend(spec)
    session.judges()
    setup = time.perf_counter() - start
    engine_in_setup = totals["prefill"] + totals["decode"] + totals["scoring"]  # check_applied's probe answers
    for task in TASKS:
        items = session.items(task.name, lambda name: TASKS.get(name).load_items())
        for spec in settings.defenses:
            session.gate(spec, task.name, items)  # the suite's cell: base, defended, reference, effect
    wall = time.perf_counter() - start
    engine = totals["prefill"] + totals["decode"] + totals["scoring"]
    totals["other set-up (wrappers, judges)"] = setup - totals["load"] - totals["merge"] - engine_in_setup
    totals["judging and the rest"] = wall - setup - (engine - engine_in_setup)
    lines = [f"{phase:52s} {seconds:7.1f} s  {seconds / wall:6.1%}" for phase, seconds in totals.items()]
    print(
        f"\ndefault run split: {len(TASKS)} tasks x (base + {len(settings.defenses)} defended models), "
        f"limit {settings.limit}, wall {wall:.1f} s\n" + "\n".join(lines)
    )
    assert engine > 0 and wall > 0
