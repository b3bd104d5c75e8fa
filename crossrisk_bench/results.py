"""The results a run produces, typed: one `ItemOutcome` per item, one `EffectRecord` per cell of
the matrix, and the `RunDocument` that `results.json` holds.

Records cross process boundaries (pytest-xdist workers to the controller) and outlive the run
(`--crossrisk-compare`, `crossrisk report`, `crossrisk plan`), so each type has a JSON form with
a schema version. Documents of older schema versions still load: fields they lack take the
defaults below (schema 1 had no verdicts, only pass/fail).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.risks import Risk

SCHEMA_VERSION = 3
READABLE_SCHEMAS = (1, 2, 3)  # 1: before verdicts; 2: verdicts, untyped; 3: typed records

# The words a cell is judged in (decided in `verdict.effects`; defined here, beside the records
# that carry them, so that every folder can name them without importing the statistics):
Verdict = Literal["pass", "fail", "inconclusive"]
Gate = Literal["efficacy", "tolerance"]  # the cell's question, and so its decision family
# efficacy / backfire on an efficacy cell, conflict / synergy on a tolerance cell
Label = Literal["efficacy", "backfire", "conflict", "synergy", "neutral"]
Headroom = Literal["cannot show a rise", "cannot show a fall"]  # what a base at a bound of its scale cannot show
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
GATES: tuple[Gate, ...] = get_args(Gate)
LABELS: tuple[Label, ...] = get_args(Label)


@dataclass(frozen=True)
class ItemOutcome:
    """One item of a cell: its score under the base and under the defended model, and why."""

    id: str
    base: float
    defended: float
    slices: Mapping[str, Any] = field(default_factory=dict)
    base_label: str | None = None
    defended_label: str | None = None
    base_response: str | None = None
    defended_response: str | None = None

    @property
    def change(self) -> float:
        return self.defended - self.base


@dataclass(frozen=True)
class EffectRecord:
    """One cell: what a defense did to one task, the statistics behind it and the gate's verdict."""

    defense: Mapping[str, Any]  # the DefenseSpec as JSON, plus fingerprint (and build record for weights)
    task: str
    task_risk: str
    n: int
    regression: float
    regression_ci: tuple[float, float]
    p_value: float
    label: Label
    message: str = ""
    metric: str = ""
    judge: str = ""
    judge_validation: str = "not recorded"
    base_value: float = 0.0
    defended_value: float = 0.0
    base_mean: float = 0.0
    defended_mean: float = 0.0
    delta: float = 0.0
    ci: tuple[float, float] = (0.0, 0.0)
    confidence: float = 0.95
    relative_change: float | None = None
    test: str = ""
    interval: str = "bootstrap"
    label_unadjusted: Label | None = None  # None in old documents: the label was not yet adjusted
    gate: Gate = "tolerance"
    tolerance: float = 0.0
    verdict: Verdict | None = None  # None in schema 1: derived from `passed`
    finding: str = ""
    passed: bool = True
    mde: float = 0.0
    items_to_decide: int | None = None
    se: float = 0.0
    rule: str = ""
    base_summary: Mapping[str, Any] = field(default_factory=dict)
    defended_summary: Mapping[str, Any] = field(default_factory=dict)
    items: tuple[ItemOutcome, ...] = ()
    clustering_note: str | None = None
    base_fingerprint: str | None = None
    base_computed: int = 0
    seed: int = 0
    clustered_by: str | None = None
    vs_previous: Mapping[str, Any] | None = None
    q_value: float | None = None  # Benjamini-Hochberg over the cell's family, set when the document is built
    decision_ci: tuple[float, float] | None = None  # the regression at the family-adjusted confidence
    decision_confidence: float | None = None
    family_size: int = 1  # cells decided together with this one (Bonferroni)
    headroom: Headroom | None = None  # effects.headroom_limit
    # the cell re-assessed on judge-corrected rates (judge_effect.judge_corrected); None: not a judged task
    judge_corrected: Mapping[str, Any] | None = None

    @property
    def judge_sensitive(self) -> bool:
        """The verdict would differ on the judge-corrected interval."""
        return bool(self.judge_corrected and self.judge_corrected.get("judge_sensitive"))

    def __post_init__(self) -> None:
        if self.verdict is None:
            object.__setattr__(self, "verdict", "pass" if self.passed else "fail")
        if self.label_unadjusted is None:
            object.__setattr__(self, "label_unadjusted", self.label)

    @property
    def defense_name(self) -> str:
        return str(self.defense["name"])

    @property
    def defense_target(self) -> str:
        return str(self.defense["target"])

    @property
    def own_base(self) -> str | None:
        """The base this cell's defended model was compared with when models.toml names one for
        the entry (`base = "..."`); None: the run's base."""
        value = dict(self.defense.get("params") or {}).get("base")
        return str(value) if value else None

    @property
    def key(self) -> tuple[str, str]:
        """The cell: (defense name, task)."""
        return self.defense_name, self.task

    @property
    def harm_sign(self) -> int:
        return Risk(self.task_risk).harm_sign

    def worse_items(self) -> list[ItemOutcome]:
        """The items whose risk rose under the defense (for utility: whose accuracy fell)."""
        return [i for i in self.items if self.harm_sign * i.change > 0]

    def replace(self, **changes: Any) -> EffectRecord:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            optional = (
                "clustering_note",
                "vs_previous",
                "q_value",
                "headroom",
                "decision_ci",
                "decision_confidence",
                "judge_corrected",
            )
            if f.name in optional and value is None:
                continue  # present only when they say something
            if f.name == "items":
                value = [dataclasses.asdict(i) | {"slices": dict(i.slices)} for i in value]
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = _plain(value)
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "effect record") -> EffectRecord:
        if not isinstance(data, Mapping):
            raise CrossriskError(f"{where}: expected an object, got {type(data).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise CrossriskError(f"{where}: unknown field(s) {unknown}")
        missing = [
            name
            for name, f in known.items()
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and name not in data
        ]
        if missing:
            raise CrossriskError(f"{where}: missing field(s) {missing}")
        values = dict(data)
        for name in ("regression_ci", "ci", "decision_ci"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        values["items"] = tuple(
            ItemOutcome(**{k: v for k, v in item.items() if k in _ITEM_FIELDS}) for item in data.get("items", ())
        )
        return cls(**values)


_ITEM_FIELDS = {f.name for f in dataclasses.fields(ItemOutcome)}


@dataclass(frozen=True)
class RunDocument:
    """What `results.json` holds: the run's settings, where it ran, and every cell."""

    run: Mapping[str, Any]
    task_order: tuple[str, ...]
    effects: tuple[EffectRecord, ...]
    schema_version: int = SCHEMA_VERSION
    created: str | None = None
    machine: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, Any] = field(default_factory=dict)
    git_commit: str | None = None
    neurons: Any = None  # the neuron analysis, when it ran
    durability: Any = None  # the fine-tuning attacks' cells and summary rows, when they ran
    stacks: Any = None  # stacked defenses against their single defenses and other orders, when the run had stacks
    complete: bool | None = None  # None: not recorded (documents before the check, or built outside a run)
    interrupted: str | None = None  # why the run stopped early, when it did
    missing: tuple[Mapping[str, str], ...] = ()  # selected tests not evaluated: {"test": node id, "reason": ...}

    @property
    def confidence(self) -> float:
        """The run's confidence (its policy's); documents that did not record one were all at 95%."""
        return float(self.run.get("confidence", 0.95))

    @property
    def incomplete(self) -> bool:
        """The run is known to lack cells (an unrecorded completeness is not claimed either way)."""
        return self.complete is False

    def effect(self, defense: str, task: str) -> EffectRecord | None:
        return next((e for e in self.effects if e.key == (defense, task)), None)

    def to_json(self) -> dict[str, Any]:
        out = {
            "schema_version": self.schema_version,
            "created": self.created,
            "run": _plain(self.run),
            "task_order": list(self.task_order),
            "machine": _plain(self.machine),
            "versions": _plain(self.versions),
            "git_commit": self.git_commit,
            "effects": [e.to_json() for e in self.effects],
        }
        if self.complete is not None:
            out |= {"complete": self.complete, "interrupted": self.interrupted, "missing": _plain(self.missing)}
        if self.neurons is not None:
            out["neurons"] = self.neurons
        if self.durability is not None:
            out["durability"] = self.durability
        if self.stacks is not None:
            out["stacks"] = self.stacks
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "results") -> RunDocument:
        if not isinstance(data, Mapping) or data.get("schema_version") not in READABLE_SCHEMAS:
            raise CrossriskError(f"{where}: not a crossrisk results file of schema version {SCHEMA_VERSION}")
        effects = tuple(
            EffectRecord.from_json(e, f"{where}: effects[{n}]") for n, e in enumerate(data.get("effects", []))
        )
        return cls(
            run=dict(data.get("run", {})),
            task_order=tuple(data.get("task_order", ())),
            effects=effects,
            schema_version=SCHEMA_VERSION,
            created=data.get("created"),
            machine=dict(data.get("machine", {})),
            versions=dict(data.get("versions", {})),
            git_commit=data.get("git_commit"),
            neurons=data.get("neurons"),
            durability=data.get("durability"),
            stacks=data.get("stacks"),
            complete=data.get("complete"),
            interrupted=data.get("interrupted"),
            missing=tuple(dict(m) for m in data.get("missing", ())),
        )

    def replace(self, **changes: Any) -> RunDocument:
        return dataclasses.replace(self, **changes)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def sort_key(record: EffectRecord, task_order: Sequence[str]) -> tuple[Any, ...]:
    """Matrix order: the base (the run's first, then entries' own bases by name), defense risk,
    defense, task risk, the suite's task order."""
    order = {name: i for i, name in enumerate(task_order)}
    risks = ("safety", "fairness", "privacy", "utility")
    return (
        record.own_base is not None,
        record.own_base or "",
        risks.index(record.defense_target),
        record.defense_name,
        risks.index(record.task_risk),
        order.get(record.task, 99),
        record.task,
    )
