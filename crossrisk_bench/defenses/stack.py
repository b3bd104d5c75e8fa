"""Stacked defenses (ConflictEval, the follow-up to CrossRiskEval: defenses deployed one after
another interact in order-dependent ways): a `models.toml` entry `defenses = ["a", "b"]`.

Weights defenses apply in the listed order, each to the model the previous ones produced (a
second adapter is trained on the first's merged weights on first use). Prompt and filter
defenses then wrap the result in their listed order. They do not change weights, so a weights
defense listed after them acts on the same model it would act on before them: only the order
among weights defenses and the order among prompt/filter defenses can change answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossrisk_bench.defenses import get_defense, zoo
from crossrisk_bench.errors import CrossriskError


def apply_stack(base: Any, names: Sequence[str]) -> Any:
    defenses = [get_defense(n) for n in names]
    weights = [d for d in defenses if d.spec.kind == "weights"]
    for later in weights[1:]:
        if zoo.get_member(later.spec.name).start != "base":
            raise CrossriskError(
                f"stack {list(names)}: {later.spec.name} trains from the model before privacy exposure, "
                "so it can only be the first weights defense of a stack"
            )
    backend = base
    for d in weights:
        backend = d.apply(backend)
    for d in defenses:
        if d.spec.kind != "weights":
            backend = d.apply(backend)
    backend.name = f"{base.name}+{'+'.join(names)}"
    return backend
