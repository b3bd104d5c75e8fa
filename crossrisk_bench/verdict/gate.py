"""One cell of the matrix: a task evaluated on a defended model and its base on the same items,
compared under the policy (`effects.assess`), and turned into the `EffectRecord` the reports
read; and the same comparison against a previous release's record.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossrisk_bench.config.policy import Policy
from crossrisk_bench.defenses.base import DefenseSpec
from crossrisk_bench.judges import judge_validation
from crossrisk_bench.judges.error_rates import JudgeErrorRates
from crossrisk_bench.results import EffectRecord, ItemOutcome, RunDocument
from crossrisk_bench.risks import Risk
from crossrisk_bench.tasks import TASKS
from crossrisk_bench.tasks.base import TaskResult
from crossrisk_bench.verdict.compare import cluster_labels, paired_effect, saved_clusters
from crossrisk_bench.verdict.effects import POWER, Effect, assess, describe, gate_of
from crossrisk_bench.verdict.judge_effect import JudgeCorrected, judge_corrected


@dataclass(frozen=True)
class PreparedCell:
    """What one cell compares, prepared before the comparison (`SuiteSession.prepare_cell`): the
    base's and the defended model's results on the same items and what the record says about
    them, so that `compare_cell` is a pure function of the cell and the policy."""

    spec: DefenseSpec
    base: TaskResult
    defended: TaskResult
    defense: Mapping[str, Any]  # the spec as JSON, with the defended model's fingerprint and build record
    base_fingerprint: str
    base_summary: Mapping[str, float]  # with the reference-calibrated figures where the task has them
    defended_summary: Mapping[str, float]
    family_size: int  # cells decided with this one (its gate's family)
    seed: int
    judge_rates: JudgeErrorRates | None  # the judge's validated sensitivity and specificity, if any


def compare_cell(cell: PreparedCell, policy: Policy) -> tuple[Effect, EffectRecord]:
    """The cell's effect under the policy and the record the reports read (no model is asked)."""
    base, defended = cell.base, cell.defended
    effect, clustered_by, note = paired_effect(
        cell.spec, base, defended, policy, seed=cell.seed, family_size=cell.family_size
    )
    record = effect_record(effect, cell.spec, base, defended).replace(
        defense=dict(cell.defense),
        base_summary=dict(cell.base_summary),
        defended_summary=dict(cell.defended_summary),
        clustering_note=note,
        base_fingerprint=cell.base_fingerprint,
        seed=cell.seed,
        clustered_by=clustered_by,
        judge_corrected=corrected_for(effect, base, defended, cell.judge_rates, policy, clustered_by, cell.seed),
    )
    return effect, record


def decision_families(cells: Iterable[tuple[DefenseSpec, str | None]], policy: Policy) -> dict[str, int]:
    """How many collected gated cells each decision family holds: "tolerance" (cross-risk cells
    and own-risk costs) and "efficacy" (own-risk cells). A cell whose task is unknown (a custom
    test) counts as a tolerance cell, which only makes the family stricter."""
    families = {"tolerance": 0, "efficacy": 0}
    for spec, task_name in cells:
        gate = "tolerance"
        if task_name is not None and task_name in TASKS.names():
            gate = gate_of(spec.target, task_name, TASKS.get(task_name).risk, policy)
        families[gate] += 1
    return families


def corrected_for(
    effect: Effect,
    base: TaskResult,
    defended: TaskResult,
    rates: JudgeErrorRates | None,
    policy: Policy,
    clustered_by: str | None,
    seed: int,
) -> JudgeCorrected | None:
    """The judge-corrected twin of a judged cell (None for tasks without a validated binary judge)."""
    task = TASKS.get(effect.task)
    if not task.judged or rates is None:
        return None
    base_by_id = {o.item_id: o for o in base.outcomes}
    paired = [(base_by_id[o.item_id].score, o.score, o) for o in defended.outcomes if o.item_id in base_by_id]
    clusters = cluster_labels(effect.task, clustered_by, [o for _, _, o in paired]) if clustered_by else None
    return judge_corrected(
        effect,
        [b for b, _, _ in paired],
        [d for _, d, _ in paired],
        rates,
        policy,
        clusters=clusters,
        seed=seed,
        scale=task.scale,
    )


def effect_record(effect: Effect, spec: DefenseSpec, base: TaskResult, defended: TaskResult) -> EffectRecord:
    """Everything the reports need about one cell (it crosses process boundaries under xdist as JSON)."""
    c, r = effect.comparison, effect.regression
    base_by_id = {o.item_id: o for o in base.outcomes}
    return EffectRecord(
        defense=spec.as_dict(),
        task=effect.task,
        task_risk=effect.task_risk.value,
        metric=base.metric,
        judge=base.judge,
        judge_validation=judge_validation(base.judge) or "not validated against external labels",
        n=c.n,
        base_value=base.value,
        defended_value=defended.value,
        base_mean=c.base_mean,
        defended_mean=c.other_mean,
        delta=c.delta.estimate,
        ci=(c.delta.low, c.delta.high),
        regression=r.estimate,
        regression_ci=(r.low, r.high),
        decision_ci=(effect.decision.low, effect.decision.high) if effect.decision is not None else None,
        decision_confidence=effect.decision.confidence if effect.decision is not None else None,
        family_size=effect.family_size,
        confidence=r.confidence,
        relative_change=c.relative_change,
        p_value=c.p_value,
        test=c.test,
        interval=c.interval,
        label_unadjusted=effect.label,
        label=effect.label,  # relabelled with BH q-values when the matrix is built
        gate=effect.gate,
        tolerance=effect.tolerance,
        verdict=effect.verdict,
        finding=effect.finding,
        passed=effect.passed,
        mde=c.mde(power=POWER),
        headroom=effect.headroom,
        items_to_decide=effect.items_to_decide() if effect.verdict == "inconclusive" else None,
        se=c.se,
        rule=effect.rule,
        message=describe(effect),
        base_summary=dict(base.summary),
        defended_summary=dict(defended.summary),
        items=tuple(
            ItemOutcome(
                o.item_id,
                base_by_id[o.item_id].score,
                o.score,
                dict(o.slices),
                base_by_id[o.item_id].label,
                o.label,
                base_by_id[o.item_id].response,
                o.response,
            )
            for o in defended.outcomes
        ),
    )


def write_examples(report_dir: Path, record: EffectRecord) -> Path:
    """The items whose risk rose under the defense (for a utility task: whose accuracy fell)."""
    folder = report_dir / "examples"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record.defense_name}__{record.task}.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for item in record.worse_items():
            fh.write(json.dumps(dataclasses.asdict(item) | {"slices": dict(item.slices)}, ensure_ascii=False) + "\n")
    return path


@dataclass(frozen=True)
class PreviousComparison:
    """This release's defended outcomes on one cell against the previous release's."""

    n: int  # items the two releases share
    rise: float
    ci: tuple[float, float]
    p_value: float
    tolerance: float
    verdict: str
    headroom: str | None
    message: str

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "rise": self.rise,
            "ci": list(self.ci),
            "p_value": self.p_value,
            "tolerance": self.tolerance,
            "verdict": self.verdict,
            "headroom": self.headroom,
            "passed": self.passed,
            "message": self.message,
        }


def compare_with_previous(
    record: EffectRecord, previous: RunDocument, policy: Policy, *, seed: int = 0, family_size: int = 1
) -> PreviousComparison | None:
    """This release's defended outcomes against a saved run's, paired by item id (like
    pytest-benchmark's --benchmark-compare-fail), through the same `assess` as the gate (the
    tolerance gate on every cell, the policy's clustering, "fail" decided in a family of
    `family_size` comparisons). None when the saved run lacks this cell."""
    match = previous.effect(record.defense_name, record.task)
    if match is None:
        return None
    before = {i.id: i.defended for i in match.items}
    gated = TASKS.get(record.task).gated if record.task in TASKS else None
    shared = [i for i in record.items if i.id in before and (gated is None or gated(i.slices))]
    if not shared:
        return None
    task_risk, defense_risk = Risk(record.task_risk), Risk(record.defense_target)
    clusters = saved_clusters(policy.cluster_by.get(record.task), shared)
    effect = assess(
        defense=record.defense_name,
        defense_risk=defense_risk,
        task=record.task,
        task_risk=task_risk,
        base=[before[i.id] for i in shared],
        defended=[i.defended for i in shared],
        policy=policy,
        seed=seed,
        clusters=clusters,
        gate="tolerance",
        scale=TASKS.get(record.task).scale if record.task in TASKS else 1.0,
        family_size=family_size,
    )
    r = effect.regression
    low, high, rise = r.low, r.high, r.estimate + 0.0
    what = "utility dropped" if task_risk.is_control else "regressed"
    message = (
        f"{record.task_risk}/{record.task} under {record.defense_target}/{record.defense_name} "
        f"{what} {rise * 100:+.1f} pts vs the previous release ({round(policy.confidence * 100)}% CI "
        f"{low * 100:+.1f}..{high * 100:+.1f}) on {len(shared)} shared items; tolerance {effect.tolerance:g} pts; "
        f"{effect.verdict.upper()}: {effect.finding}"
    )
    return PreviousComparison(
        n=len(shared),
        rise=rise,
        ci=(low, high),
        p_value=effect.comparison.p_value,
        tolerance=effect.tolerance,
        verdict=effect.verdict,
        headroom=effect.headroom,
        message=message,
    )


@dataclass(frozen=True)
class GateOutcome:
    """What a cell's verdicts do to its pytest test: messages that fail it, and doubts
    (inconclusive verdicts) that warn, unless the policy's `on_inconclusive` makes them fail."""

    failures: tuple[str, ...] = ()
    doubts: tuple[str, ...] = ()


def gate_outcome(
    record: EffectRecord,
    previous: PreviousComparison | None,
    *,
    on_inconclusive: str,
    examples: Path | None = None,
) -> GateOutcome:
    """The cell's verdict, and its verdict against the previous release, as a test outcome."""
    failures: list[str] = []
    doubts: list[str] = []
    if record.verdict != "pass":
        message = record.message + (f"; regressed examples: {examples}" if examples else "")
        (failures if record.verdict == "fail" else doubts).append(message)
    if previous is not None and previous.verdict != "pass":
        (failures if previous.verdict == "fail" else doubts).append(previous.message)
    if on_inconclusive == "fail":
        return GateOutcome(failures=(*failures, *doubts))
    return GateOutcome(failures=tuple(failures), doubts=tuple(doubts))
