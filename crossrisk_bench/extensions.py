"""Tasks, judges and defenses from other installed packages, through entry points.

Why: a user adds a measurement, a judge or a defense from their own package without editing
this one, the way pytest finds plugins through `pytest11`. A package declares, in its
pyproject.toml, `[project.entry-points."crossrisk_bench.tasks"]` with `name = "module:OBJECT"`
(and the same for `crossrisk_bench.judges` and `crossrisk_bench.defenses`). Each registry reads
its group once, the first time it is used, so importing crossrisk_bench or loading the pytest
plugin imports nothing of theirs. A broken entry point or a name that is already taken is one
`CrossriskError` naming the distribution and the entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

from crossrisk_bench.errors import CrossriskError

TASKS_GROUP = "crossrisk_bench.tasks"
JUDGES_GROUP = "crossrisk_bench.judges"
DEFENSES_GROUP = "crossrisk_bench.defenses"


@dataclass(frozen=True)
class EntryPoints:
    """Where a registry's extensions come from and what each entry point must name."""

    group: str
    type: type  # a Task, a JudgeEntry, a Defense
    name: Callable[[Any], str] | None = None  # the name the entry point must carry (None: the registry key)


def load(spec: EntryPoints, kind: str, key: Callable[[Any], str], taken: Container[str]) -> list[Any]:
    """The objects the installed entry points of `spec.group` name, in a fixed order (by
    distribution, then entry point), checked before any is added: of the right type, the entry
    point named as the object is, and no key that `taken` (the built-ins) or another entry has."""
    from importlib.metadata import entry_points

    found: list[Any] = []
    owners: dict[str, str] = {}
    points = sorted(entry_points(group=spec.group), key=lambda ep: (_dist(ep), ep.name))
    for ep in points:
        where = f"entry point {ep.name!r} ({ep.value}) of distribution {_dist(ep)!r} in group {spec.group!r}"
        try:
            obj = ep.load()
        except Exception as exc:  # any error of a user's module is theirs to see, with where it came from
            raise CrossriskError(f"{where} failed to load: {type(exc).__name__}: {exc}") from exc
        if not isinstance(obj, spec.type):
            raise CrossriskError(f"{where} names a {type(obj).__name__}, not a {spec.type.__name__}")
        name = (spec.name or key)(obj)
        if name != ep.name:
            raise CrossriskError(f"{where} names the {kind} {name!r}; name the entry point {name!r}")
        entry_key = key(obj)
        if entry_key in taken:
            raise CrossriskError(f"{where}: it clashes with the built-in {kind} {entry_key!r}; give yours another name")
        if entry_key in owners:
            raise CrossriskError(f"{where}: {kind} {entry_key!r} is also added by {owners[entry_key]}")
        owners[entry_key] = where
        found.append(obj)
    return found


def _dist(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else "unknown"
