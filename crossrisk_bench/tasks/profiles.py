"""Run profiles: how many items each task evaluates.

`quick` (the default) takes a slice-balanced sample of every task, sized so that all 13 tasks
run on SmolLM2 from a cold cache in about two minutes on a 2-core CPU; `full` takes every
embedded item. `--crossrisk-limit N` overrides the profile's per-task count.
"""

from __future__ import annotations

from dataclasses import dataclass

from crossrisk_bench.errors import CrossriskError


@dataclass(frozen=True)
class Profile:
    name: str
    limit: int | None  # items per task; None = all
    description: str


PROFILES: dict[str, Profile] = {
    "quick": Profile("quick", 12, "12 slice-balanced items per task (about 2 minutes cold on SmolLM2, 2 CPU cores)"),
    "full": Profile("full", None, "every embedded item of every task"),
}
DEFAULT_PROFILE = "quick"


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise CrossriskError(f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}") from None


def items_limit(profile: str, limit: int | None) -> int | None:
    """The per-task item count: an explicit limit wins over the profile's."""
    return limit if limit is not None else get_profile(profile).limit
