"""A saved run's models rebuilt from its results.json: the base, and the defended models whose
weights differ from it (weights defenses applied again, checkpoints loaded again). What the
commands that study weights after a run (`crossrisk neurons`, `crossrisk attack`) start from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossrisk_bench.defenses import get_defense
from crossrisk_bench.defenses.base import WEIGHT_KINDS, DefenseSpec
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.loader import ModelSpec, load_backend
from crossrisk_bench.results import RunDocument
from crossrisk_bench.risks import Risk

SPEC_KEYS = ("name", "target", "kind", "description", "params")


def weight_models(
    document: RunDocument, *, cache_dir: Any, only: Sequence[str] | None = None
) -> tuple[Any, list[tuple[DefenseSpec, Any]], list[str]]:
    """The run's base, its weights and checkpoint defenses as (spec, backend) (those named in
    `only`, when given: an unknown name is an error listing the run's), and the names left out:
    prompt and filter defenses (same weights as the base) and entries compared with a base of
    their own (these commands study one base's weights)."""
    run = document.run
    records = {e.defense_name: e for e in document.effects}
    if only is not None:
        unknown = [n for n in only if n not in records]
        if unknown:
            raise CrossriskError(f"unknown defended model(s) {unknown}; this run has: {', '.join(records)}")
        records = {n: records[n] for n in only}
    base = load_backend(ModelSpec(run["model"], run.get("adapter")), cache_dir=cache_dir)
    defended, skipped = [], []
    for name, record in records.items():
        recorded = record.defense
        spec = DefenseSpec(**{k: recorded[k] for k in SPEC_KEYS if k != "target"}, target=Risk(recorded["target"]))
        if record.own_base or spec.kind not in WEIGHT_KINDS:
            skipped.append(name)
        elif spec.kind == "weights":
            defended.append((spec, get_defense(name).apply(base)))
        else:
            params = spec.params
            checkpoint = ModelSpec(params.get("checkpoint", run["model"]), params.get("adapter"))
            defended.append((spec, load_backend(checkpoint, cache_dir=cache_dir)))
    return base, defended, skipped
