"""The run's session, one per pytest process (per xdist worker), on `config.stash`: it owns the
base and defended backends, the judges, the reference model, and the base's results, which the
first worker computes under a file lock while the others wait and then read the cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crossrisk_bench.config.models_file import base_spec, checkpoint_spec, own_base
from crossrisk_bench.config.policy import Policy
from crossrisk_bench.data.items import Item, take
from crossrisk_bench.defenses import get_defense
from crossrisk_bench.defenses.base import DefenseSpec
from crossrisk_bench.defenses.check import check_applied
from crossrisk_bench.defenses.stack import apply_stack
from crossrisk_bench.defenses.zoo import pre_exposure_backend
from crossrisk_bench.durability.run import durability_cells
from crossrisk_bench.durability.summary import DurabilityRow, durability_failures, durability_rows
from crossrisk_bench.judges.rates import rates_for
from crossrisk_bench.judges.select import JudgeChoice, Judges, build_judges
from crossrisk_bench.models.base import Backend
from crossrisk_bench.models.loader import EXPOSED_NAME, ModelSpec, load_backend
from crossrisk_bench.models.torch_state import run_threads
from crossrisk_bench.neurons.analysis import (
    BaseState,
    NeuronFinding,
    base_state,
    defense_findings,
    entanglement_failure,
    pair_records,
)
from crossrisk_bench.results import EffectRecord
from crossrisk_bench.settings import Settings
from crossrisk_bench.tasks import TASKS
from crossrisk_bench.tasks.base import TaskResult
from crossrisk_bench.verdict.effects import Effect, gate_of
from crossrisk_bench.verdict.gate import (
    GateOutcome,
    PreparedCell,
    compare_cell,
    compare_with_previous,
    gate_outcome,
    write_examples,
)

ItemSource = Callable[[str], list[Item]]  # task name -> the run's items for it, before the limit


@dataclass
class SuiteSession:
    """Per-process state of a run: the base backend, defended backends and base results."""

    settings: Settings
    base: Backend | None = None
    defended: dict[str, Backend] = field(default_factory=dict)  # by defense id
    other_bases: dict[str, Backend] = field(default_factory=dict)  # models.toml entries' own bases, by name
    base_results: dict[tuple[str | None, str], TaskResult] = field(default_factory=dict)  # (own base, task)
    base_computed: dict[tuple[str | None, str], int] = field(default_factory=dict)  # requests computed here
    base_counted_in: dict[tuple[str | None, str], str] = field(default_factory=dict)  # the cell they are counted in
    reference: Backend | None = None  # the zoo base before privacy exposure (membership-inference reference)
    built_judges: Judges | None = None  # the run's refusal and fulfilment judges, built on first use
    neuron_base: BaseState | None = None  # the base's side of the neuron analysis, computed on first use
    families: dict[str, int] = field(default_factory=dict)  # decision family -> gated cells collected

    @property
    def policy(self) -> Policy:
        return self.settings.policy

    def family_size(self, gate: str) -> int:
        """Cells decided together with one of this `gate` (set when collection finishes; 1 when a
        cell was not collected as a gated test, e.g. a gate called from a helper)."""
        return max(1, self.families.get(gate, 0))

    def base_backend(self) -> Backend:
        if self.base is None:
            s = self.settings
            self.base = load_backend(
                s.model, cache_dir=s.cache_dir, use_cache=s.use_cache, batch_size=s.batch_size, threads=s.threads
            )
        return self.base

    def _base_model_spec(self, spec: DefenseSpec) -> ModelSpec:
        """The `ModelSpec` of the base an entry is compared with (its own, else the run's)."""
        name = own_base(spec)
        return base_spec(self.settings.model, name) if name else self.settings.model

    def base_for(self, spec: DefenseSpec) -> Backend:
        """The model a defended entry is compared with: its own `base` in models.toml (a public
        defended checkpoint beside the model it was made from), else the run's base."""
        name = own_base(spec)
        if name is None:
            return self.base_backend()
        if name not in self.other_bases:
            s = self.settings
            self.other_bases[name] = load_backend(
                self._base_model_spec(spec),
                cache_dir=s.cache_dir,
                use_cache=s.use_cache,
                batch_size=s.batch_size,
                threads=s.threads,
            )
        return self.other_bases[name]

    def defended_backend(self, spec: DefenseSpec) -> Backend:
        if spec.id not in self.defended:
            base = self.base_for(spec)
            if spec.kind == "checkpoint":
                s = self.settings
                backend = load_backend(
                    checkpoint_spec(self._base_model_spec(spec), spec.params),
                    cache_dir=s.cache_dir,
                    use_cache=s.use_cache,
                    batch_size=s.batch_size,
                    threads=s.threads,
                )
                backend.name = spec.name
            elif spec.kind == "stack":
                backend = apply_stack(base, spec.params["defenses"])
            else:
                backend = get_defense(spec.name).apply(base)
            check_applied(base, backend)
            self.defended[spec.id] = backend
        return self.defended[spec.id]

    def judges(self) -> Judges:
        """The run's judge choice (`--crossrisk-judge`), built once per process."""
        if self.built_judges is None:
            choice = getattr(self.settings, "judges", None) or JudgeChoice()
            judge_backend = None
            if choice.model:
                s = self.settings
                judge_backend = load_backend(
                    ModelSpec(choice.model),
                    cache_dir=s.cache_dir,
                    use_cache=s.use_cache,
                    batch_size=s.batch_size,
                    threads=s.threads,
                )
            self.built_judges = build_judges(choice, judge_backend)
        return self.built_judges

    def reference_model(self, base: Backend | None = None) -> Backend | None:
        """The model before privacy exposure, when the base (default: the run's) is the zoo's
        exposed base (else None): the reference that tasks declaring `with_reference` compare
        against (the reference-calibrated membership attack)."""
        base = base if base is not None else self.base_backend()
        if not (getattr(base, "lineage", None) or "").startswith(EXPOSED_NAME):
            return None
        if self.reference is None:
            self.reference = pre_exposure_backend(self.base_backend())
        return self.reference

    def neuron_findings(self, spec: DefenseSpec, other: str, effects: list[EffectRecord]) -> NeuronFinding:
        """Neuron-level findings for one defended model and one non-target risk (the base's
        attributions are computed once per process)."""
        if self.neuron_base is None:
            self.neuron_base = base_state(self.base_backend(), seed=self.settings.seed)
        state = self.neuron_base
        trends, causal = defense_findings(
            state,
            self.base_backend(),
            spec.name,
            spec.target.value,
            self.defended_backend(spec),
            effects,
            others=[other],
        )
        return {
            "params": state.params,
            "calibration": {r: len(e) for r, e in state.calibration.items()},
            "pairs": pair_records(state.findings),
            "trends": trends,
            "causal": causal,
        }

    def durability_check(
        self, spec: DefenseSpec, load: ItemSource
    ) -> tuple[dict[str, Any], list[DurabilityRow], list[str]]:
        """The attacks on one defended model: its cells, their rows, and the failures the
        policy's `[durability]` rule finds in them."""
        with run_threads(self.settings.threads):
            part = self.durability(spec, load)
        rows = durability_rows(part["cells"])
        return part, rows, durability_failures(rows, self.policy.durability)

    def neuron_check(
        self, spec: DefenseSpec, other: str, load: ItemSource
    ) -> tuple[list[EffectRecord], NeuronFinding, str | None]:
        """The cells of `other`'s tasks under `spec`, the neuron findings on them, and the failure
        when a significant regression is tracked by conflict-entangled neurons."""
        tasks = [t.name for t in TASKS if t.risk.value == other]
        effects = [self.gate(spec, name, self.items(name, load))[1] for name in tasks]
        with run_threads(self.settings.threads):
            finding = self.neuron_findings(spec, other, effects)
        return effects, finding, entanglement_failure(spec.target.value, spec.name, other, finding, effects)

    def durability(self, spec: DefenseSpec, load: ItemSource) -> dict[str, Any]:
        """The fine-tuning attacks of the run on one defended model and on its base (the control):
        every cell before and after each attack run (`durability.run`)."""
        s = self.settings
        return durability_cells(
            self.base_for(spec),
            [(spec, self.defended_backend(spec))],
            s.attacks,
            tasks=TASKS.names(),
            items=lambda name: self.items(name, load),
            policy=self.policy,
            judges=self.judges(),
            seed=s.seed,
            cache_dir=s.cache_dir if s.use_cache else None,
        )

    def items(self, task_name: str, load: ItemSource) -> list[Item]:
        task = TASKS.get(task_name)
        return take(load(task_name), self.settings.limit, by=task.balance_by)

    def base_result(self, task_name: str, items: list[Item], spec: DefenseSpec | None = None) -> TaskResult:
        """The result of the base that `spec` is compared with (default: the run's base), computed
        by one process at a time: under xdist the first worker computes it while the others wait
        on a file lock, then read it from the cache. The requests it computed are counted for the
        first cell that reaches its comparison (`computed_for`), so a run's cells add up to what it computed."""
        key = (own_base(spec) if spec is not None else None, task_name)
        if key not in self.base_results:
            from filelock import FileLock

            base = self.base_for(spec) if spec is not None else self.base_backend()
            locks = self.settings.cache_dir / "locks"
            locks.mkdir(parents=True, exist_ok=True)
            with FileLock(str(locks / f"{base.fingerprint}-{task_name}.lock"), timeout=3600):
                before = base.stats.computed
                self.base_results[key] = TASKS.get(task_name).evaluate(base, items, judges=self.judges())
                self.base_computed[key] = base.stats.computed - before
        return self.base_results[key]

    def computed_for(self, spec: DefenseSpec, task_name: str) -> int:
        """Base requests computed in this process for `spec`'s cell: all of them for the first cell
        that reaches its comparison (a cell that failed before it does not take them), 0 for the
        others; asking again for the same cell gives the same answer."""
        key = (own_base(spec), task_name)
        return self.base_computed.get(key, 0) if self.base_counted_in.setdefault(key, spec.id) == spec.id else 0

    def gate(self, spec: DefenseSpec, task_name: str, items: list[Item]) -> tuple[Effect, EffectRecord]:
        """One cell: evaluate the base and `spec`'s defended model on the same items, then compare
        them under the policy (`verdict.gate.compare_cell`, which asks no model)."""
        with run_threads(self.settings.threads):
            prepared = self.prepare_cell(spec, task_name, items)
        effect, record = compare_cell(prepared, self.policy)
        return effect, record.replace(base_computed=self.computed_for(spec, task_name))  # once compared

    def decide(self, spec: DefenseSpec, task_name: str, items: list[Item]) -> tuple[Effect, EffectRecord, GateOutcome]:
        """A gated test's cell: its effect, its record (with the comparison against the previous
        release, if the run has one) and what they do to the test (`verdict.gate.gate_outcome`)."""
        s = self.settings
        effect, record = self.gate(spec, task_name, items)
        previous = None
        if s.compare is not None:
            family = sum(self.families.values()) or 1
            previous = compare_with_previous(record, s.compare, self.policy, seed=s.seed, family_size=family)
            record = record.replace(vs_previous=previous.to_json() if previous else None)
        examples = write_examples(s.report_dir, record) if s.report_dir and record.verdict != "pass" else None
        return effect, record, gate_outcome(record, previous, on_inconclusive=s.on_inconclusive, examples=examples)

    def prepare_cell(self, spec: DefenseSpec, task_name: str, items: list[Item]) -> PreparedCell:
        """Everything one cell compares, asked of the models before the comparison: the base's
        and the defended model's results, the reference-calibrated figures, the judge's rates."""
        task = TASKS.get(task_name)
        base = self.base_result(task_name, items, spec)
        base_backend = self.base_for(spec)
        defended_backend = self.defended_backend(spec)
        defended = task.evaluate(defended_backend, items, judges=self.judges())
        defense = spec.as_dict() | {"fingerprint": defended_backend.fingerprint}
        if getattr(defended_backend, "build_record", None):  # weights defenses: how the adapter was trained
            defense["build"] = defended_backend.build_record
        base_summary, defended_summary = dict(base.summary), dict(defended.summary)
        reference = self.reference_model(base_backend) if task.with_reference is not None else None
        if reference is not None:
            base_summary.update(task.with_reference(base_backend, reference, items))
            defended_summary.update(task.with_reference(defended_backend, reference, items))
        return PreparedCell(
            spec=spec,
            base=base,
            defended=defended,
            defense=defense,
            base_fingerprint=base_backend.fingerprint,
            base_summary=base_summary,
            defended_summary=defended_summary,
            family_size=self.family_size(gate_of(spec.target, task_name, task.risk, self.policy)),
            seed=self.settings.seed,
            judge_rates=rates_for(base.judge, self.settings.judges.rates if self.settings.judges else None),
        )
