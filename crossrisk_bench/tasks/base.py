"""Tasks: what one measurement is, the per-item outcomes it produces, and the registry.

A `Task` knows its risk, its kind (`direct`: an explicit sensitive request scored by refusal;
`indirect`: the risk surfaces without one), where its items come from, and how to score them
with a backend. Every outcome is oriented so that higher = riskier (for the utility control,
higher = better; `Risk.UTILITY.is_control` tells which). Results keep every per-item outcome, so
the paired statistics of the suite can compare two models item by item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from crossrisk_bench.data.items import Item, load_jsonl, merge_sources, take
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.extensions import EntryPoints
from crossrisk_bench.models.base import Backend
from crossrisk_bench.paths import items_path
from crossrisk_bench.registry import Registry
from crossrisk_bench.risks import Risk

DIRECT = "direct"
INDIRECT = "indirect"


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Outcome:
    """One item's result: `score` in [0, 1] (higher = riskier), the judge's label, the evidence."""

    item_id: str
    score: float
    label: str
    slices: Mapping[str, str] = field(default_factory=dict, hash=False)
    response: str | None = None
    extra: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"outcome score must be in [0, 1], got {self.score} for {self.item_id}")
        object.__setattr__(self, "slices", _frozen(self.slices))
        object.__setattr__(self, "extra", _frozen(self.extra))


@dataclass(frozen=True)
class TaskResult:
    """All outcomes of one task on one model, with the headline metric and task-specific ones."""

    task: str
    risk: Risk
    kind: str
    metric: str
    judge: str
    value: float
    outcomes: tuple[Outcome, ...]
    summary: Mapping[str, float] = field(default_factory=dict, hash=False)
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "summary", _frozen(self.summary))
        object.__setattr__(self, "params", _frozen(self.params))

    @property
    def n(self) -> int:
        return len(self.outcomes)

    def by_slice(self, key: str) -> dict[str, float]:
        """Mean score per value of a slice key (category, group, mutation, ...)."""
        groups: dict[str, list[float]] = {}
        for outcome in self.outcomes:
            groups.setdefault(outcome.slices.get(key, "all"), []).append(outcome.score)
        return {name: sum(scores) / len(scores) for name, scores in sorted(groups.items())}


def mean_score(outcomes: Sequence[Outcome]) -> float:
    if not outcomes:
        raise CrossriskError("no outcomes to average")
    return sum(o.score for o in outcomes) / len(outcomes)


def macro_mean(outcomes: Sequence[Outcome], key: str) -> float:
    """Mean of per-slice means: every slice weighs the same, whatever its item count."""
    groups: dict[str, list[float]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.slices.get(key, "all"), []).append(outcome.score)
    if not groups:
        raise CrossriskError("no outcomes to average")
    return sum(sum(g) / len(g) for g in groups.values()) / len(groups)


def embedded_items(name: str) -> Callable[[], list[Item]]:
    """A loader for the task's embedded JSONL file under `fixtures/items/` (read when called)."""
    return lambda: load_jsonl(items_path(name))


Scorer = Callable[[Backend, Sequence[Item]], "Scored"]


@dataclass(frozen=True)
class Scored:
    """What a task's scorer returns: outcomes, headline value, extra metrics, judge name."""

    outcomes: tuple[Outcome, ...]
    value: float
    judge: str
    summary: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """A registered measurement. `load_items` reads the embedded items; `score` runs them."""

    name: str
    risk: Risk
    kind: str
    metric: str
    description: str
    load_items: Callable[[], list[Item]] = field(hash=False, compare=False)
    score: Scorer = field(hash=False, compare=False)
    balance_by: str | tuple[str, ...] | None = None
    slice_keys: tuple[str, ...] = ()
    # a statistic that is not a mean of per-item outcomes brings its own paired comparison:
    # (base result, defended result, confidence=) -> PairedComparison
    compare: Callable[..., Any] | None = field(default=None, hash=False, compare=False)
    judged: bool = False  # the scorer takes the run's judge choice (refusal and fulfilment judges)
    # extra summary figures against a reference model (the zoo base before privacy exposure), when
    # the run has one: (backend, reference backend, items) -> {name: value}
    with_reference: Callable[..., dict[str, float]] | None = field(default=None, hash=False, compare=False)
    scale: float = 1.0  # the top of the compared statistic's scale (a bound no defense can cross)
    # which outcomes (by their slices) the gate compares; None: all. The others are still scored
    # and reported (e.g. jailbreak answers in a language the judge was never checked on)
    gated: Callable[[Mapping[str, Any]], bool] | None = field(default=None, hash=False, compare=False)

    def evaluate(
        self, backend: Backend, items: Sequence[Item] | None = None, *, limit: int | None = None, judges: Any = None
    ) -> TaskResult:
        """Score the items; `judges` (a `judges.select.Judges`) replaces the default refusal and
        fulfilment judges for the tasks whose scorer takes them (`judged`)."""
        given = merge_sources(self.name, [("the items given", items if items is not None else self.load_items())])
        chosen = take(given, limit, by=self.balance_by)
        if not chosen:
            raise CrossriskError(f"task {self.name!r} has no items to evaluate")
        scored = (
            self.score(backend, chosen, judges=judges)
            if self.judged and judges is not None
            else self.score(backend, chosen)
        )
        return TaskResult(
            task=self.name,
            risk=self.risk,
            kind=self.kind,
            metric=self.metric,
            judge=scored.judge,
            value=scored.value,
            outcomes=scored.outcomes,
            summary=scored.summary,
            params={"items": len(chosen), "limit": limit, **scored.params},
        )


class TaskRegistry(Registry[Task]):
    """Tasks by name; the suite's registry is built once in `crossrisk_bench.tasks` (with the
    tasks of installed packages, `entry_points`)."""

    def __init__(self, tasks: Sequence[Task] = (), *, entry_points: EntryPoints | None = None) -> None:
        super().__init__("task", lambda task: task.name, tasks, entry_points=entry_points)

    def names(self, risk: Risk | None = None) -> list[str]:
        return [t.name for t in self if risk is None or t.risk is risk]
