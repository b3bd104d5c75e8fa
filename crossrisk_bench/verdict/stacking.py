"""Stacked defenses compared, from a run's records alone: each stack against each of its single
defenses, and against the same defenses stacked in another order, task by task, paired by item
(the same items, each model's own outcome). No model is run again: every defended outcome is in
the records. Intervals and p-values are per comparison (not adjusted over the list)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypedDict

from crossrisk_bench.results import EffectRecord
from crossrisk_bench.stats import compare_paired
from crossrisk_bench.tasks import TASKS
from crossrisk_bench.verdict.compare import saved_clusters
from crossrisk_bench.verdict.effects import POINTS


class StackRow(TypedDict):
    """A stack against one single defense of it, or against the same defenses in another order, on
    one task (what results.json's `stacks` holds)."""

    stack: str
    order: list[str]  # the stack's defenses, in the order applied
    task: str
    versus: str
    comparison: Literal["single", "order"]
    delta: float  # stack minus versus, points
    ci: list[float]
    p_value: float
    test: str
    n: int
    confidence: float
    differs: bool


def has_stacks(records: Sequence[EffectRecord]) -> bool:
    return any(r.defense.get("kind") == "stack" for r in records)


def _pair(one: EffectRecord, other: EffectRecord) -> tuple[list[float], list[float], list[str] | None]:
    """Both models' outcomes on their shared items, and the items' clusters when the gate
    clustered this task (so a stack comparison is no more confident than the gate's own test)."""
    theirs = {i.id: i.defended for i in other.items}
    shared = [i for i in one.items if i.id in theirs]
    clusters = saved_clusters(one.clustered_by, shared)
    if clusters is not None and len(set(clusters)) < 2:  # one cluster carries no variance information
        clusters = None
    return [theirs[i.id] for i in shared], [i.defended for i in shared], clusters


def stack_comparisons(records: Sequence[EffectRecord], *, confidence: float, seed: int = 0) -> list[StackRow]:
    """One row per (stack, task, comparison): `versus` a single defense of the stack ("single") or
    the stack in another order ("order"); delta = stack minus versus, in points of risk (for
    utility: of accuracy). Tasks scored by a statistic that is not a per-item mean (membership
    AUC) are left out: a paired mean of their item scores is not their statistic."""
    by_key = {(r.defense_name, r.task): r for r in records}
    stacks = [r for r in records if r.defense.get("kind") == "stack"]
    rows: list[StackRow] = []
    seen_orders = set()
    for r in stacks:
        names = list(r.defense["params"]["defenses"])
        if TASKS.get(r.task).compare is not None:
            continue
        versus: list[tuple[Literal["single", "order"], str]] = [("single", n) for n in names]
        for other in stacks:
            other_names = list(other.defense["params"]["defenses"])
            key = (frozenset((r.defense_name, other.defense_name)), r.task)
            if other is not r and other.task == r.task and sorted(other_names) == sorted(names):
                if key not in seen_orders:
                    seen_orders.add(key)
                    versus.append(("order", other.defense_name))
        for kind, name in versus:
            other_record = by_key.get((name, r.task))
            if other_record is None:
                continue
            theirs, ours, clusters = _pair(r, other_record)
            if not ours:
                continue
            c = compare_paired(theirs, ours, seed=seed, confidence=confidence, clusters=clusters)
            rows.append(
                {
                    "stack": r.defense_name,
                    "order": names,
                    "task": r.task,
                    "versus": name,
                    "comparison": kind,
                    "delta": round(c.delta.estimate * POINTS, 3),
                    "ci": [round(c.delta.low * POINTS, 3), round(c.delta.high * POINTS, 3)],
                    "p_value": float(c.p_value),
                    "test": c.test,
                    "n": c.n,
                    "confidence": confidence,
                    "differs": bool(c.p_value < 1 - confidence),
                }
            )
    return rows


def stack_lines(rows: Sequence[StackRow]) -> list[str]:
    """Model-card lines: does order matter, and what does stacking add to each single defense."""
    out = []
    for row in rows:
        if row["comparison"] == "order":
            words = "order matters" if row["differs"] else "order not shown to matter"
        else:
            words = "differs from the single defense" if row["differs"] else "no difference shown"
        out.append(
            f"- `{row['stack']}` on {row['task']}: {row['delta']:+.1f} pts vs `{row['versus']}` "
            f"({row['confidence']:.0%} CI {row['ci'][0]:+.1f}..{row['ci'][1]:+.1f}, {row['test']} "
            f"p={row['p_value']:.3g}, n={row['n']}): {words}"
        )
    return out
