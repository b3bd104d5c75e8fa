"""One defended result against its base's on the same items: paired by item id, resampled by
the policy's clusters, or compared by the task's own statistic (membership inference: AUC).
Used by the gate, `--crossrisk-compare` and the durability run alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossrisk_bench.config.policy import Policy
from crossrisk_bench.defenses.base import DefenseSpec
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.tasks import TASKS
from crossrisk_bench.tasks.base import TaskResult
from crossrisk_bench.verdict.effects import MIN_CLUSTERS, Effect, assess, decision_confidence


def cluster_labels(task_name: str, key: str | None, outcomes: list[Any]) -> list[str] | None:
    """The cluster of each outcome for the policy's `cluster_by` key. A key that the task's items
    do not carry is an error naming both (a silent fallback would claim clustering it did not do).
    Too few clusters are not dropped here: `assess` gives such a cell no verdict."""
    if not key:
        return None
    missing = [o.item_id for o in outcomes if key not in o.slices]
    if missing:
        keys = sorted({k for o in outcomes for k in o.slices})
        raise CrossriskError(
            f"policy cluster_by.{task_name} = {key!r}, but {len(missing)} of {len(outcomes)} "
            f"{task_name} outcomes have no {key!r} slice (e.g. {missing[0]}); slices: {keys}"
        )
    return [str(o.slices[key]) for o in outcomes]


def missing_cluster_key(task_name: str, key: str | None, items: Sequence[Any]) -> str | None:
    """Why items (with `id` and `meta`) cannot be clustered by the policy's key, or None: checked
    when the run starts, so a user's items without the key stop it once, not every test."""
    missing = [i.id for i in items if key and key not in i.meta]
    if not missing:
        return None
    return (
        f"policy cluster_by.{task_name} = {key!r}, but {len(missing)} of {len(items)} items have no "
        f"{key!r} in their meta (e.g. {missing[0]})"
    )


def saved_clusters(key: str | None, items: Sequence[Any]) -> list[str] | None:
    """The clusters of a saved record's items (`id`, `slices`) for `key`, by the gate's rule, so a
    comparison made later from results.json resamples as the gate did: None without a key or
    when an item lacks it."""
    if not key or not all(key in i.slices for i in items):
        return None
    return [str(i.slices[key]) for i in items]


def paired_effect(
    spec: DefenseSpec,
    base: TaskResult,
    defended: TaskResult,
    policy: Policy,
    *,
    seed: int,
    family_size: int = 1,
) -> tuple[Effect, str | None, str | None]:
    """A defended result against its base's on the same items, under the policy (its clustering
    included) and decided in a family of `family_size` cells: the effect, the slice key it
    clustered by (None: items singly) and a note when the policy's key had too few clusters."""
    task = TASKS.get(base.task)
    base_scores = {o.item_id: o.score for o in base.outcomes}
    paired = [(base_scores[o.item_id], o.score, o) for o in defended.outcomes if o.item_id in base_scores]
    if len(paired) != len(base.outcomes):
        raise CrossriskError(f"{base.task}: base and defended results do not cover the same items")
    if task.gated is not None:  # items the task reports but does not gate (e.g. an unvalidated judge)
        paired = [p for p in paired if task.gated(p[2].slices)]
    cluster_key = policy.cluster_by.get(base.task)
    clusters = cluster_labels(base.task, cluster_key, [o for _, _, o in paired])
    comparison = decision = None
    if task.compare:
        comparison = task.compare(base, defended, confidence=policy.confidence)
        decision = task.compare(base, defended, confidence=decision_confidence(policy.confidence, family_size))
    effect = assess(
        defense=spec.name,
        defense_risk=spec.target,
        task=base.task,
        task_risk=task.risk,
        base=[b for b, _, _ in paired],
        defended=[d for _, d, _ in paired],
        policy=policy,
        seed=seed,
        clusters=clusters,
        comparison=comparison,
        decision=decision,
        scale=task.scale,
        family_size=family_size,
    )
    note = None
    if effect.clusters is not None and effect.clusters < MIN_CLUSTERS:
        note = (
            f"{effect.clusters} {cluster_key} clusters among {len(paired)} items, fewer than "
            f"{MIN_CLUSTERS}: too few to estimate their variance, so the cell has no verdict"
        )
    return effect, cluster_key if clusters is not None else None, note
