"""The task registry: every measurement of the suite by name (`crossrisk tasks` lists them)."""

from __future__ import annotations

from crossrisk_bench.tasks import fairness, privacy, safety, utility
from crossrisk_bench.tasks.base import (
    DIRECT,
    INDIRECT,
    Outcome,
    Task,
    TaskRegistry,
    TaskResult,
)

TASKS = TaskRegistry(safety.SAFETY_TASKS + fairness.FAIRNESS_TASKS + privacy.PRIVACY_TASKS + utility.UTILITY_TASKS)
ITEM_BUILDERS = {**safety.ITEM_BUILDERS, **fairness.ITEM_BUILDERS, **privacy.ITEM_BUILDERS, **utility.ITEM_BUILDERS}

__all__ = ["DIRECT", "INDIRECT", "ITEM_BUILDERS", "TASKS", "Outcome", "Task", "TaskRegistry", "TaskResult"]
