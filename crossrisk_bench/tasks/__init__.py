"""The task registry: every measurement of the suite by name (`crossrisk tasks` lists them),
and those of installed packages (entry-point group `crossrisk_bench.tasks`, `extensions`)."""

from __future__ import annotations

from crossrisk_bench.extensions import TASKS_GROUP, EntryPoints
from crossrisk_bench.tasks import fairness, privacy, safety, utility
from crossrisk_bench.tasks.base import (
    DIRECT,
    INDIRECT,
    Outcome,
    Task,
    TaskRegistry,
    TaskResult,
)

TASKS = TaskRegistry(
    safety.SAFETY_TASKS + fairness.FAIRNESS_TASKS + privacy.PRIVACY_TASKS + utility.UTILITY_TASKS,
    entry_points=EntryPoints(TASKS_GROUP, Task),
)
ITEM_BUILDERS = {**safety.ITEM_BUILDERS, **fairness.ITEM_BUILDERS, **privacy.ITEM_BUILDERS, **utility.ITEM_BUILDERS}


def evaluation_texts() -> set[str]:
    """Every message and raw text of every embedded item, lower-cased: what training data
    (defenses, attacks) must never contain, or it would measure memorisation."""
    out = set()
    for task in TASKS:
        for item in task.load_items():
            out.update(m.content.strip().lower() for m in item.prompt.messages)
            if item.prompt.text:
                out.add(item.prompt.text.strip().lower())
    return out


__all__ = [
    "DIRECT",
    "INDIRECT",
    "ITEM_BUILDERS",
    "TASKS",
    "evaluation_texts",
    "Outcome",
    "Task",
    "TaskRegistry",
    "TaskResult",
]
