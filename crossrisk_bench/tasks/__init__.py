"""The task registry: every measurement of the suite by name (`crossrisk tasks` lists them)."""

from __future__ import annotations

from crossrisk_bench.tasks.base import DIRECT, INDIRECT, Outcome, Task, TaskRegistry, TaskResult
from crossrisk_bench.tasks.privacy import ITEM_BUILDERS as _PRIVACY_BUILDERS
from crossrisk_bench.tasks.privacy import PRIVACY_TASKS

TASKS = TaskRegistry(PRIVACY_TASKS)
ITEM_BUILDERS = {**_PRIVACY_BUILDERS}

__all__ = ["DIRECT", "INDIRECT", "ITEM_BUILDERS", "TASKS", "Outcome", "Task", "TaskRegistry", "TaskResult"]
