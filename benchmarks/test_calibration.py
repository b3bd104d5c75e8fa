"""Are the verdicts right in both directions, for the whole matrix a user acts on?

Opt-in (`--crossrisk-calibration` or `-m calibration`). Simulations with a known truth
(`crossrisk_bench.verdict.simulation`), shaped like the real thing: each task's items and clusters, the
zoo base's measured rate and the two-way churn the shipped defenses cause on it
(`benchmarks/measured_noise.json`, from a default run), counts drawn at random in every run.

- Operating characteristic, per task at its release size (every item), as a cross-risk cell
  decided in the release matrix's tolerance family: P(pass), P(fail), P(inconclusive) at true
  rises of 0, T/2, T and 2T, at low / measured / high churn. A false "fail" (true rise <= T) must
  stay rare; the item count at which a harmless defense passes in >= 80% of runs and a 2T rise
  fails in >= 80% is searched and written beside it.
- Null matrices: the default zoo's whole matrix at the quick and release counts, nothing truly
  changed: at most 5% of matrices may contain any failed cell; and the same matrix with one
  planted 2T rise, to say how often it is caught.
- A/A on real sampled answers (needs the model; slow): the base against itself under sampled
  decoding, independent answer sets per comparison, every cell decided as a matrix (tolerance
  and efficacy cells, so the backfire rule is exercised).

Figures are printed (run with -s) and written to `calibration.json` in --crossrisk-report DIR.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from crossrisk_bench.config.models_file import load_models
from crossrisk_bench.config.policy import Policy
from crossrisk_bench.config.profiles import get_profile
from crossrisk_bench.data.items import take
from crossrisk_bench.paths import FIXTURES
from crossrisk_bench.plugin import settings_key
from crossrisk_bench.risks import Risk
from crossrisk_bench.tasks import TASKS
from crossrisk_bench.verdict.compare import cluster_labels
from crossrisk_bench.verdict.effects import POINTS, assess, gate_of
from crossrisk_bench.verdict.gate import decision_families
from crossrisk_bench.verdict.simulation import CellShape, MatrixCell, simulate_cell, simulate_matrices

pytestmark = [pytest.mark.calibration, pytest.mark.slow]
RUNS = 200
MATRICES = 200
MIN_CHURN = 0.05  # a task most defenses leave alone still gets some churn: a defense that changes nothing is trivial
NOISE_FILE = Path(__file__).parent / "measured_noise.json"
SIMULATED = [t.name for t in TASKS if t.compare is None]  # membership AUC: DeLong, not simulated here
CROSS_RISK = {  # the defense risk a task is a cross-risk cell of in the simulation
    Risk.SAFETY: Risk.PRIVACY,
    Risk.FAIRNESS: Risk.SAFETY,
    Risk.PRIVACY: Risk.SAFETY,
    Risk.UTILITY: Risk.SAFETY,
}
GENERATION_TASKS = (
    "misuse",
    "jailbreak",
    "over_refusal",
    "toxicity",
    "bias_query",
    "privacy_awareness",
    "pii_leakage",
    "context_leakage",
)


def _write(settings, name: str, figures: dict) -> None:
    print(json.dumps({name: figures}, indent=1))
    if settings.report_dir is not None:
        path = settings.report_dir / "calibration.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.loads(path.read_text()) if path.is_file() else {}
        data[name] = figures
        path.write_text(json.dumps(data, indent=1))


def shape_of(task_name: str, policy: Policy, *, limit: int | None, defense_risk: Risk, defense: str | None = None):
    """A task's cell as the gate sees it: its (sampled) items and clusters, the measured base rate
    and the churn measured for this defense (else the median over the shipped defenses)."""
    task = TASKS.get(task_name)
    items = take(task.load_items(), limit, by=task.balance_by)
    items = [i for i in items if task.gated is None or task.gated(i.meta)]  # what the gate compares
    key = policy.cluster_by.get(task_name)
    clusters = tuple(str(i.meta[key]) for i in items) if key else tuple(i.id for i in items)
    noise = json.loads(NOISE_FILE.read_text())["tasks"][task_name]
    churn = noise["by_defense"].get(defense, noise["discordance"]) if defense else noise["discordance"]
    return CellShape(task_name, task.risk, defense_risk, clusters, key is not None, noise["base_rate"], churn)


def release_matrix(policy: Policy, *, limit: int | None) -> list[MatrixCell]:
    """The default zoo's matrix (fixtures/models.toml x every simulated task)."""
    cells = []
    for spec in load_models(FIXTURES / "models.toml"):
        for name in SIMULATED:
            task = TASKS.get(name)
            shape = shape_of(name, policy, limit=limit, defense_risk=spec.target, defense=spec.name)
            cells.append(MatrixCell(spec.name, shape, gate_of(spec.target, name, task.risk, policy)))
    return cells


def zoo_families(policy: Policy) -> dict[str, int]:
    """The decision families of a default run (every task, membership inference included)."""
    specs = load_models(FIXTURES / "models.toml")
    return decision_families([(s, t) for s in specs for t in TASKS.names()], policy)


def items_for(shape: CellShape, rise: float, *, policy: Policy, family_size: int, want: str) -> int | None:
    """The smallest item count (doubling, then bisecting on a 60-run estimate) at which the
    verdict `want` has probability >= 80% at a true rise `rise`; None beyond 20,000 items."""

    def ok(n: int) -> bool:
        figures = simulate_cell(shape.with_items(n), rise, policy=policy, family_size=family_size, runs=60, seed=n)
        return figures[want] >= 0.8

    low, high = 16, 32
    while not ok(high):
        low, high = high, high * 2
        if high > 20_000:
            return None
    while high - low > max(8, low // 10):
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return high


@pytest.mark.parametrize("task_name", SIMULATED)
def test_operating_characteristic(task_name: str, crossrisk_settings, pytestconfig) -> None:
    policy = pytestconfig.stash[settings_key].policy
    task = TASKS.get(task_name)
    defense_risk = CROSS_RISK[task.risk]
    family = zoo_families(policy)["tolerance"]
    measured = shape_of(task_name, policy, limit=None, defense_risk=defense_risk)
    shape = dataclasses.replace(measured, discordance=max(measured.discordance, MIN_CHURN))
    tolerance = policy.tolerance_for(defense_risk, task_name, task.risk) / POINTS
    churn = max(shape.discordance, MIN_CHURN)
    churns = {"low": churn / 2, "measured": churn, "high": min(0.6, 2 * churn)}
    rows = {}
    for level, churn in churns.items():
        at = CellShape(
            shape.task, shape.task_risk, shape.defense_risk, shape.clusters, shape.clustered, shape.base_rate, churn
        )
        for factor in (0.0, 0.5, 1.0, 2.0):
            figures = simulate_cell(at, factor * tolerance, policy=policy, family_size=family, runs=RUNS, seed=7)
            rows[f"{level} churn {churn:.2f}, rise {factor:g}T"] = figures
    sizes = {
        "pass_80_at_0": items_for(shape, 0.0, policy=policy, family_size=family, want="pass"),
        "fail_80_at_2T": items_for(shape, 2 * tolerance, policy=policy, family_size=family, want="fail"),
    }
    _write(
        crossrisk_settings,
        f"oc/{task_name}",
        {
            "items": shape.n,
            "clusters": len(set(shape.clusters)) if shape.clustered else None,
            "base_rate": shape.base_rate,
            "tolerance_pts": tolerance * POINTS,
            "family_size": family,
            "runs": RUNS,
            "rows": rows,
            "items_for_80pct": sizes,
        },
    )
    false_fail = max(r["fail"] for key, r in rows.items() if r["true_delta_pts"] <= tolerance * POINTS)
    assert false_fail <= 0.05, f"{task_name}: a rise within the tolerance was shown as harm in {false_fail:.1%} of runs"


@pytest.mark.parametrize("profile", ["quick", "release"])
def test_null_matrices_rarely_fail(profile: str, crossrisk_settings, pytestconfig) -> None:
    policy = pytestconfig.stash[settings_key].policy
    cells = release_matrix(policy, limit=get_profile(profile).limit)
    families = zoo_families(policy)
    null = simulate_matrices(cells, policy=policy, runs=MATRICES, seed=11, families=families)
    target = next(n for n, c in enumerate(cells) if c.gate == "tolerance" and c.shape.task == "pii_leakage")
    rise = 2 * policy.tolerance_for(cells[target].shape.defense_risk, "pii_leakage", Risk.PRIVACY) / POINTS
    planted = simulate_matrices(
        cells, policy=policy, runs=MATRICES // 2, seed=12, planted={target: rise}, families=families
    )
    _write(
        crossrisk_settings,
        f"null_matrices/{profile}",
        null | {"planted_2T_in_" + cells[target].defense + "/pii_leakage": planted[f"planted_{target}_fail"]},
    )
    assert null["any_fail"] <= 0.05, f"{null['any_fail']:.1%} of null matrices contain a failed cell"
    assert null["any_false_efficacy"] <= 0.05


def test_aa_matrices(crossrisk_backend, crossrisk_task_items, crossrisk_settings, pytestconfig) -> None:
    """The base against itself under sampled decoding: every comparison uses two answer sets of
    its own (2 x runs sets), each task as a cross-risk cell and as an own-risk cell."""
    from crossrisk_bench.models.sampling import SampledBackend

    policy = pytestconfig.stash[settings_key].policy
    runs = pytestconfig.getoption("crossrisk_aa_runs")
    tasks = [t for t in GENERATION_TASKS if t in TASKS.names()]
    items = {t: take(crossrisk_task_items(t), crossrisk_settings.limit, by=TASKS.get(t).balance_by) for t in tasks}
    sets = [
        {t: TASKS.get(t).evaluate(SampledBackend(crossrisk_backend, 0.7, seed=seed), items[t]) for t in tasks}
        for seed in range(2 * runs)
    ]
    cells = [(t, risk) for t in tasks for risk in (CROSS_RISK[TASKS.get(t).risk], TASKS.get(t).risk)]
    families = {
        g: sum(gate_of(r, t, TASKS.get(t).risk, policy) == g for t, r in cells) for g in ("tolerance", "efficacy")
    }
    failed_matrices = failed = backfires = 0
    discordance = []
    for run in range(runs):
        verdicts = []
        for t, risk in cells:
            a, b = sets[2 * run][t], sets[2 * run + 1][t]
            task = TASKS.get(t)
            base, other = [o.score for o in a.outcomes], [o.score for o in b.outcomes]
            discordance.append(float(np.mean(np.asarray(base) != np.asarray(other))))
            effect = assess(
                defense="same-model",
                defense_risk=risk,
                task=t,
                task_risk=task.risk,
                base=base,
                defended=other,
                policy=policy,
                clusters=cluster_labels(t, policy.cluster_by.get(t), list(a.outcomes)),
                family_size=families[gate_of(risk, t, task.risk, policy)],
            )
            verdicts.append(effect)
        failed += sum(e.verdict == "fail" for e in verdicts)
        backfires += sum(e.finding == "backfire shown" for e in verdicts)
        failed_matrices += any(e.verdict == "fail" for e in verdicts)
    _write(
        crossrisk_settings,
        "aa",
        {
            "runs": runs,
            "answer_sets": 2 * runs,
            "tasks": tasks,
            "cells_per_matrix": len(cells),
            "items": {t: len(v) for t, v in items.items()},
            "temperature": 0.7,
            "mean_discordance": float(np.mean(discordance)),
            "failed_cells": failed,
            "backfires": backfires,
            "matrices_with_a_failed_cell": failed_matrices / runs,
        },
    )
    assert failed_matrices / runs <= 0.05
