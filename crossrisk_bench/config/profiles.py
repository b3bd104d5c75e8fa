"""Run profiles: how many items each task evaluates.

`quick` (the default) takes a slice-balanced sample of every task (24 items), sized so that the
default zoo's whole matrix runs on a CPU: a smoke test, whose inconclusive cells warn. `release` takes every item and fails on inconclusive cells: a gate that
passes only what it has shown. `full` takes every item and warns. `--crossrisk-limit N`
overrides the profile's per-task count; the policy's `on_inconclusive` overrides the profile's.

`release` is a floor: a limit or a policy that warns on inconclusive cells would let it pass what
it has not shown, so they are a usage error there unless the user allows them explicitly (and
the report then names them), and a gated cell it skips fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crossrisk_bench.registry import Registry

if TYPE_CHECKING:  # the plugin imports profiles at start: the policy (and numpy) load only when used
    from crossrisk_bench.config.policy import OnInconclusive


@dataclass(frozen=True)
class Profile:
    name: str
    limit: int | None  # items per task; None = all
    description: str
    on_inconclusive: OnInconclusive = "warn"  # what an inconclusive verdict does to the test
    floor: bool = False  # nothing may weaken it without an explicit override; skipped gated cells fail


PROFILES: Registry[Profile] = Registry(
    "profile",
    lambda p: p.name,
    (
        Profile(
            "quick",
            24,
            "24 slice-balanced items per task (a smoke test); inconclusive cells warn",
            "warn",
        ),
        Profile("full", None, "every item of every task; inconclusive cells warn", "warn"),
        Profile(
            "release",
            None,
            "every item of every task; inconclusive cells fail (a gate that passes only what it has shown)",
            "fail",
            floor=True,
        ),
    ),
)
DEFAULT_PROFILE = "quick"


def get_profile(name: str) -> Profile:
    return PROFILES.get(name)


def items_limit(profile: str, limit: int | None) -> int | None:
    """The per-task item count: an explicit limit wins over the profile's."""
    return limit if limit is not None else get_profile(profile).limit


def weakenings(profile: str, limit: int | None, policy_on_inconclusive: str | None) -> tuple[str, ...]:
    """What in this run's options would weaken a floor profile (nothing for another profile)."""
    chosen = get_profile(profile)
    if not chosen.floor:
        return ()
    found = []
    if limit is not None:
        found.append(f"--crossrisk-limit {limit} (the {chosen.name} profile evaluates every item)")
    if policy_on_inconclusive is not None and policy_on_inconclusive != chosen.on_inconclusive:
        found.append(
            f"the policy's on_inconclusive = {policy_on_inconclusive!r} (the {chosen.name} profile "
            f"makes inconclusive cells {chosen.on_inconclusive})"
        )
    return tuple(found)
