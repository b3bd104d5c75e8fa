"""The suite's run-time: which defended models to compare (`models.toml`), evaluating a task on
a defended model and its base on the same items, and turning that into a gate verdict plus a
JSON-able record that travels on the pytest report to the controller.

One `SuiteSession` per pytest process (per xdist worker) lives on `config.stash`; base results
are shared across workers through the response cache, not recomputed per worker.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossrisk_bench.defenses import get_defense
from crossrisk_bench.defenses.base import DefenseSpec
from crossrisk_bench.effects import POWER, Effect, Policy, assess, describe
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.files import read_toml
from crossrisk_bench.items import Item, take
from crossrisk_bench.judges import JUDGE_VALIDATION
from crossrisk_bench.results import EffectRecord, ItemOutcome, RunDocument
from crossrisk_bench.risks import Risk
from crossrisk_bench.tasks import TASKS
from crossrisk_bench.tasks.base import TaskResult

MODELS_KEYS = {"base", "defended"}
MIN_CLUSTERS = 5
ENTRY_KEYS = {"defense", "name", "target", "checkpoint", "adapter", "description", "model", "base_url", "api_key_env"}
SERVED_KEYS = ("model", "base_url", "api_key_env")


def models_base(path: str | Path) -> str | None:
    """The base model named by `models.toml` (`base = "..."`), used unless --crossrisk-model is given."""
    base = read_toml(Path(path), "models file").get("base")
    if base is not None and not isinstance(base, str):
        raise CrossriskError(f"{path}: 'base' must be a model name, directory or hub id (a string)")
    return base


def load_models(path: str | Path) -> tuple[DefenseSpec, ...]:
    """The defended models of `models.toml`: registered defenses by name, or external checkpoints."""
    path = Path(path)
    data = read_toml(path, "models file")
    unknown = sorted(set(data) - MODELS_KEYS)
    if unknown:
        raise CrossriskError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(MODELS_KEYS)}")
    specs = []
    for n, entry in enumerate(data.get("defended", []), start=1):
        where = f"{path}: defended entry {n}"
        bad = sorted(set(entry) - ENTRY_KEYS)
        if bad:
            raise CrossriskError(f"{where}: unknown key(s) {bad}; allowed: {sorted(ENTRY_KEYS)}")
        if "defense" in entry:
            specs.append(get_defense(entry["defense"]).spec)
        elif "checkpoint" in entry or "adapter" in entry or "model" in entry:
            if "model" in entry and ("checkpoint" in entry or "adapter" in entry):
                raise CrossriskError(
                    f"{where}: give 'checkpoint'/'adapter' (a local model) or 'model' (a served one), not both"
                )
            for key in ("name", "target"):
                if key not in entry:
                    raise CrossriskError(f"{where}: an external checkpoint needs '{key}'")
            try:
                target = Risk(entry["target"])
            except ValueError:
                raise CrossriskError(f"{where}: target must be safety, fairness or privacy") from None
            specs.append(
                DefenseSpec(
                    entry["name"],
                    target,
                    "checkpoint",
                    entry.get("description", "external checkpoint"),
                    {k: entry[k] for k in ("checkpoint", "adapter", *SERVED_KEYS) if k in entry},
                )
            )
        else:
            raise CrossriskError(
                f"{where}: give 'defense' (a registered name), 'checkpoint'/'adapter' (a local "
                "model) or 'model' with an optional 'base_url' (a served model)"
            )
    if not specs:
        raise CrossriskError(f"{path} lists no defended models")
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        raise CrossriskError(f"{path}: defended models must have distinct names, got {ids}")
    return tuple(specs)


def checkpoint_spec(base: Any, params: Any) -> Any:
    """How to load an external checkpoint of `models.toml`: a local model or adapter loaded like
    the base, or (`model`, optional `base_url`/`api_key_env`) a model served beside the base."""
    from dataclasses import replace

    from crossrisk_bench.models.served import ServerOptions

    if "model" not in params:
        if base.backend != "hf":
            raise CrossriskError(
                "a local checkpoint or adapter cannot be compared with a served base; "
                "serve it and give its 'model' name"
            )
        return base.with_model(params.get("checkpoint", base.model), params.get("adapter"))
    server = base.server
    if "base_url" in params or server is None:
        if "base_url" not in params:
            raise CrossriskError(f"served checkpoint {params['model']!r} needs a 'base_url' (the base is not served)")
        server = ServerOptions(
            params["base_url"],
            api_key_env=params.get("api_key_env"),
            **({"concurrency": server.concurrency, "timeout": server.timeout} if server else {}),
        )
    elif "api_key_env" in params:
        server = replace(server, api_key_env=params["api_key_env"])
    return replace(base, model=params["model"], adapter=None, backend="openai", server=server)


@dataclass
class SuiteSession:
    """Per-process state of a run: the base backend, defended backends and base results."""

    settings: Any
    policy: Policy
    base: Any = None
    defended: dict[str, Any] = field(default_factory=dict)
    base_results: dict[str, TaskResult] = field(default_factory=dict)
    base_computed: dict[str, int] = field(default_factory=dict)  # requests this process computed for the base
    reference: Any = None  # the zoo base before privacy exposure (membership-inference reference)
    built_judges: Any = None  # the run's refusal and fulfilment judges, built on first use
    neuron_base: Any = None  # the base's side of the neuron analysis, computed on first use

    def base_backend(self) -> Any:
        if self.base is None:
            from crossrisk_bench.models.loader import load_backend

            s = self.settings
            self.base = load_backend(
                s.model, cache_dir=s.cache_dir, use_cache=s.use_cache, batch_size=s.batch_size, threads=s.threads
            )
        return self.base

    def defended_backend(self, spec: DefenseSpec) -> Any:
        if spec.id not in self.defended:
            from crossrisk_bench.defenses.check import check_applied

            base = self.base_backend()
            if spec.kind == "checkpoint":
                from crossrisk_bench.models.loader import load_backend

                s = self.settings
                backend = load_backend(
                    checkpoint_spec(s.model, spec.params),
                    cache_dir=s.cache_dir,
                    use_cache=s.use_cache,
                    batch_size=s.batch_size,
                    threads=s.threads,
                )
                backend.name = spec.name
            else:
                backend = get_defense(spec.name).apply(base)
            check_applied(base, backend)
            self.defended[spec.id] = backend
        return self.defended[spec.id]

    def judges(self) -> Any:
        """The run's judge choice (`--crossrisk-judge`), built once per process."""
        if self.built_judges is None:
            from crossrisk_bench.judges.select import JudgeChoice, build_judges

            choice = getattr(self.settings, "judges", None) or JudgeChoice()
            judge_backend = None
            if choice.model:
                from crossrisk_bench.models.loader import ModelSpec, load_backend

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

    def reference_model(self) -> Any:
        """The model before privacy exposure, when the base is the zoo's exposed base (else None):
        the reference that tasks declaring `with_reference` compare against (the
        reference-calibrated membership attack)."""
        from crossrisk_bench.models.loader import EXPOSED_NAME

        if not (getattr(self.base_backend(), "lineage", None) or "").startswith(EXPOSED_NAME):
            return None
        if self.reference is None:
            from crossrisk_bench.defenses.zoo import pre_exposure_backend

            self.reference = pre_exposure_backend(self.base_backend())
        return self.reference

    def neuron_findings(self, spec: DefenseSpec, other: str, effects: list[EffectRecord]) -> dict[str, Any]:
        """Neuron-level findings for one defended model and one non-target risk (the base's
        attributions are computed once per process)."""
        from crossrisk_bench.neurons.analysis import base_state, defense_findings, pair_records

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

    def items(self, task_name: str, load: Any) -> list[Item]:
        task = TASKS.get(task_name)
        return take(load(task_name), self.settings.limit, by=task.balance_by)

    def base_result(self, task_name: str, items: list[Item]) -> TaskResult:
        """The base model's result, computed by one process at a time: under xdist the first
        worker computes it while the others wait on a file lock, then read it from the cache."""
        if task_name not in self.base_results:
            from filelock import FileLock

            base = self.base_backend()
            locks = self.settings.cache_dir / "locks"
            locks.mkdir(parents=True, exist_ok=True)
            with FileLock(str(locks / f"{base.fingerprint}-{task_name}.lock"), timeout=3600):
                before = base.stats.computed
                self.base_results[task_name] = TASKS.get(task_name).evaluate(base, items, judges=self.judges())
                self.base_computed[task_name] = base.stats.computed - before
        return self.base_results[task_name]


def cluster_labels(task_name: str, key: str | None, outcomes: list[Any]) -> list[str] | None:
    """The cluster of each outcome for the policy's `cluster_by` key. A key that the task's items
    do not carry is an error naming both (a silent fallback would claim clustering it did not do);
    fewer than MIN_CLUSTERS clusters cannot estimate their variance, so items are used (recorded)."""
    if not key:
        return None
    missing = [o.item_id for o in outcomes if key not in o.slices]
    if missing:
        keys = sorted({k for o in outcomes for k in o.slices})
        raise CrossriskError(
            f"policy cluster_by.{task_name} = {key!r}, but {len(missing)} of {len(outcomes)} "
            f"{task_name} outcomes have no {key!r} slice (e.g. {missing[0]}); slices: {keys}"
        )
    labels = [str(o.slices[key]) for o in outcomes]
    return labels if len(set(labels)) >= MIN_CLUSTERS else None


def run_gate(
    session: SuiteSession, spec: DefenseSpec, task_name: str, items: list[Item]
) -> tuple[Effect, EffectRecord]:
    """Evaluate base and defended on the same items; return the effect and its report record."""
    task = TASKS.get(task_name)
    base = session.base_result(task_name, items)
    defended_backend = session.defended_backend(spec)
    defended = task.evaluate(defended_backend, items, judges=session.judges())
    base_scores = {o.item_id: o.score for o in base.outcomes}
    paired = [(base_scores[o.item_id], o.score, o) for o in defended.outcomes if o.item_id in base_scores]
    if len(paired) != len(base.outcomes):
        raise CrossriskError(f"{task_name}: base and defended results do not cover the same items")
    cluster_key = session.policy.cluster_by.get(task_name)
    clusters = cluster_labels(task_name, cluster_key, [o for _, _, o in paired])
    comparison = task.compare(base, defended, confidence=session.policy.confidence) if task.compare else None
    effect = assess(
        defense=spec.name,
        defense_risk=spec.target,
        task=task_name,
        task_risk=task.risk,
        base=[b for b, _, _ in paired],
        defended=[d for _, d, _ in paired],
        policy=session.policy,
        seed=session.settings.seed,
        clusters=clusters,
        comparison=comparison,
    )
    note = None
    if cluster_key and clusters is None:
        note = (
            f"{len({o.slices[cluster_key] for _, _, o in paired})} {cluster_key} clusters "
            f"among {len(paired)} items, fewer than {MIN_CLUSTERS}: items resampled singly"
        )
    defense = spec.as_dict() | {"fingerprint": defended_backend.fingerprint}
    if getattr(defended_backend, "build_record", None):  # weights defenses: how the adapter was trained
        defense["build"] = defended_backend.build_record
    base_summary, defended_summary = dict(base.summary), dict(defended.summary)
    if task.with_reference is not None and session.reference_model() is not None:
        reference = session.reference_model()
        base_summary.update(task.with_reference(session.base_backend(), reference, items))
        defended_summary.update(task.with_reference(defended_backend, reference, items))
    record = effect_record(effect, spec, base, defended).replace(
        defense=defense,
        base_summary=base_summary,
        defended_summary=defended_summary,
        clustering_note=note,
        base_fingerprint=session.base_backend().fingerprint,
        base_computed=session.base_computed.pop(task_name, 0),  # counted once per process
        seed=session.settings.seed,
        clustered_by=cluster_key if clusters is not None else None,
    )
    return effect, record


def effect_record(effect: Effect, spec: DefenseSpec, base: TaskResult, defended: TaskResult) -> EffectRecord:
    """Everything the reports need about one cell (it crosses process boundaries under xdist as JSON)."""
    c, r = effect.comparison, effect.regression
    base_by_id = {o.item_id: o for o in base.outcomes}
    return EffectRecord(
        defense=spec.as_dict(),
        task=effect.task,
        task_risk=effect.task_risk.value,
        metric=base.metric,
        judge=base.judge,
        judge_validation=JUDGE_VALIDATION.get(base.judge, "not validated against external labels"),
        n=c.n,
        base_value=base.value,
        defended_value=defended.value,
        base_mean=c.base_mean,
        defended_mean=c.other_mean,
        delta=c.delta.estimate,
        ci=(c.delta.low, c.delta.high),
        regression=r.estimate,
        regression_ci=(r.low, r.high),
        confidence=r.confidence,
        relative_change=c.relative_change,
        p_value=c.p_value,
        test=c.test,
        interval=c.interval,
        label_unadjusted=effect.label,
        label=effect.label,  # relabelled with BH q-values when the matrix is built
        gate=effect.gate,
        tolerance=effect.tolerance,
        verdict=effect.verdict,
        finding=effect.finding,
        passed=effect.passed,
        mde=c.mde(power=POWER),
        items_to_decide=effect.items_to_decide() if effect.verdict == "inconclusive" else None,
        se=c.se,
        rule=effect.rule,
        message=describe(effect),
        base_summary=dict(base.summary),
        defended_summary=dict(defended.summary),
        items=tuple(
            ItemOutcome(
                o.item_id,
                base_by_id[o.item_id].score,
                o.score,
                dict(o.slices),
                base_by_id[o.item_id].label,
                o.label,
                base_by_id[o.item_id].response,
                o.response,
            )
            for o in defended.outcomes
        ),
    )


def write_examples(report_dir: Path, record: EffectRecord) -> Path:
    """The items whose risk rose under the defense (for a utility task: whose accuracy fell)."""
    folder = report_dir / "examples"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record.defense_name}__{record.task}.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for item in record.worse_items():
            fh.write(json.dumps(dataclasses.asdict(item) | {"slices": dict(item.slices)}, ensure_ascii=False) + "\n")
    return path


def compare_with_previous(
    record: EffectRecord, previous: RunDocument, policy: Policy, *, seed: int = 0
) -> dict[str, Any] | None:
    """This release's defended outcomes against a saved run's, paired by item id (like
    pytest-benchmark's --benchmark-compare-fail), through the same `assess` as the gate (the
    tolerance gate on every cell, the policy's clustering). None when the saved run lacks this cell."""
    match = previous.effect(record.defense_name, record.task)
    if match is None:
        return None
    before = {i.id: i.defended for i in match.items}
    shared = [i for i in record.items if i.id in before]
    if not shared:
        return None
    task_risk, defense_risk = Risk(record.task_risk), Risk(record.defense_target)
    key = policy.cluster_by.get(record.task)
    clusters = None
    if key and all(key in i.slices for i in shared):
        labels = [str(i.slices[key]) for i in shared]
        clusters = labels if len(set(labels)) >= MIN_CLUSTERS else None
    effect = assess(
        defense=record.defense_name,
        defense_risk=defense_risk,
        task=record.task,
        task_risk=task_risk,
        base=[before[i.id] for i in shared],
        defended=[i.defended for i in shared],
        policy=policy,
        seed=seed,
        clusters=clusters,
        gate="tolerance",
    )
    r = effect.regression
    low, high, rise = r.low, r.high, r.estimate + 0.0
    what = "utility dropped" if task_risk.is_control else "regressed"
    message = (
        f"{record.task_risk}/{record.task} under {record.defense_target}/{record.defense_name} "
        f"{what} {rise * 100:+.1f} pts vs the previous release ({round(policy.confidence * 100)}% CI "
        f"{low * 100:+.1f}..{high * 100:+.1f}) on {len(shared)} shared items; tolerance {effect.tolerance:g} pts; "
        f"{effect.verdict.upper()}: {effect.finding}"
    )
    return {
        "n": len(shared),
        "rise": rise,
        "ci": [low, high],
        "p_value": effect.comparison.p_value,
        "tolerance": effect.tolerance,
        "verdict": effect.verdict,
        "passed": effect.verdict == "pass",
        "message": message,
    }
