"""Power planning from a saved run: how many items each task needs so that a harmless defense
(true change 0) passes with 80% power, and a regression of twice the tolerance fails with 80%
power when "fail" is decided, as the gate does, over the run's tolerance family (Bonferroni).

Both sizes are planning figures for assumed true changes (0 and 2T), at the per-item spread the
run measured; they are normal approximations, checked against the simulated operating
characteristic (`benchmarks/test_calibration.py`).

Why from a saved run: the variance of a paired difference depends on how often the two models
disagree on an item (the discordance), which only a run can tell. The plan takes each task's
worst (largest) per-item standard deviation over the defended models, so every cell of the
task is sized, and says how many items the task has now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from crossrisk_bench.results import RunDocument
from crossrisk_bench.stats import items_needed, minimum_detectable_effect
from crossrisk_bench.verdict.effects import decision_confidence


@dataclass(frozen=True)
class TaskPlan:
    task: str
    risk: str
    items_now: int
    sd: float  # worst per-item standard deviation of the paired difference over defenses
    mde_now: float  # points, at items_now, for that sd
    items_needed: int  # for a harmless defense (true change 0) to pass with `power`
    worst_defense: str
    items_to_fail: int = 0  # for a true rise of twice the tolerance to fail with `power`
    family_size: int = 1  # tolerance cells "fail" is decided over


def plan_items(document: RunDocument, *, tolerance: float, power: float = 0.8) -> list[TaskPlan]:
    """One plan row per task of a results document (`tolerance` in points)."""
    if tolerance <= 0:
        raise ValueError(f"tolerance must be > 0 points, got {tolerance}")
    confidence = document.confidence
    family = max(1, sum(r.gate == "tolerance" for r in document.effects))
    adjusted = decision_confidence(confidence, family)
    rows: dict[str, TaskPlan] = {}
    for record in document.effects:
        n, se = int(record.n), float(record.se)
        if n < 1 or se <= 0:
            continue
        sd = se * math.sqrt(n)
        needed = items_needed(sd, tolerance / 100.0, confidence=confidence, power=power)
        mde = 100.0 * minimum_detectable_effect(n, sd, confidence=confidence, power=power)
        to_fail = items_needed(sd, tolerance / 100.0, confidence=adjusted, power=power)  # 2T - T = T
        plan = TaskPlan(record.task, record.task_risk, n, sd, mde, needed, record.defense_name, to_fail, family)
        current = rows.get(plan.task)
        if current is None or plan.sd > current.sd:
            rows[plan.task] = plan
    order = {t: i for i, t in enumerate(document.task_order)}
    return sorted(rows.values(), key=lambda p: (order.get(p.task, 99), p.task))


def render_plan(plans: list[TaskPlan], *, tolerance: float, power: float = 0.8) -> list[str]:
    family = plans[0].family_size if plans else 1
    lines = [
        f"items per task at {power:.0%} power, tolerance {tolerance:g} pts, at the spread the run measured "
        "(worst defense of each task): 'to pass' assumes a harmless defense (true change 0), 'to fail 2T' "
        f"a true rise of {2 * tolerance:g} pts decided over {family} tolerance cells (Bonferroni)",
        f"{'task':<24} {'risk':<9} {'items now':>9} {'MDE now':>8} {'to pass':>8} {'to fail 2T':>10}  worst defense",
    ]
    for p in plans:
        lines.append(
            f"{p.task:<24} {p.risk:<9} {p.items_now:>9} {p.mde_now:>7.1f}  {p.items_needed:>8} {p.items_to_fail:>10}"
            f"  {p.worst_defense}"
        )
    return lines
