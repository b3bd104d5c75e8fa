"""The durability run: every attacked model against the base attacked the same way.

"Durable" means better than the undefended base *after the same attack*, not "low risk after
attack": an attack that makes every model comply says nothing about the defense. So each point
of each attack's grid trains the base (the control) and every defended model, and each defended
model is compared with the attacked base on the same items, with the suite's paired statistics
and policy. The defenses' own-risk tasks are also evaluated under a system prompt (the
attack's persona for `identity_shift`, a neutral one otherwise) and without the chat template
(the conversation as plain text): the durability paper's pitfall of a single prompt format.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from typing import Any

from crossrisk_bench.config.policy import Policy
from crossrisk_bench.data.items import Item
from crossrisk_bench.defenses.base import DefenseSpec, WrappedBackend
from crossrisk_bench.defenses.prompt import SystemPromptDefense
from crossrisk_bench.durability.attack import attack_model, seen_texts
from crossrisk_bench.durability.attacks import AttackRun, AttackSpec
from crossrisk_bench.durability.data import AOA_SYSTEM_PROMPT, held_out_items
from crossrisk_bench.durability.summary import BEFORE, DurabilityCell
from crossrisk_bench.models.base import Prompt
from crossrisk_bench.risks import Risk
from crossrisk_bench.tasks import TASKS
from crossrisk_bench.tasks.base import TaskResult
from crossrisk_bench.verdict.compare import paired_effect
from crossrisk_bench.verdict.effects import POINTS

NEUTRAL_SYSTEM_PROMPT = "You are a helpful assistant."

Results = dict[tuple[str, str], TaskResult]  # (task, format) -> result


def system_prompt_for(run: AttackRun | None) -> str:
    return AOA_SYSTEM_PROMPT if run is not None and run.attack.kind == "identity_shift" else NEUTRAL_SYSTEM_PROMPT


def under_system_prompt(backend: Any, text: str) -> Any:
    """The model asked with a system prompt before every chat prompt (an evaluation format, not a defense)."""
    # a DefenseSpec only because SystemPromptDefense reads its text from one; the target is unused
    spec = DefenseSpec("system-format", Risk.SAFETY, "prompt", "evaluation format", {"system_prompt": text})
    return SystemPromptDefense(backend, spec)


class WithoutChatTemplate(WrappedBackend):
    """The model asked without its chat template: each turn as "Role: text", then "Assistant:"
    (an evaluation format, not a defense). A safeguard trained through the template can be
    absent outside it."""

    def rewrite(self, prompt: Prompt) -> Prompt:
        if not prompt.is_chat:
            return prompt
        turns = [f"{m['role'].capitalize()}: {m['content']}" for m in prompt.chat_messages()]
        return Prompt.raw("\n\n".join(turns) + "\n\nAssistant:")


def without_chat_template(backend: Any) -> Any:
    spec = DefenseSpec("plain-format", Risk.SAFETY, "prompt", "evaluation format: no chat template", {})
    return WithoutChatTemplate(backend, spec)


FORMATS = {
    "chat": "the suite's prompts",
    "system": "a system prompt (AOA persona after identity_shift)",
    "plain": "without the chat template (turns as plain text)",
}


def evaluate(
    backend: Any,
    run: AttackRun | None,
    *,
    tasks: Sequence[str],
    two_format_tasks: set[str],
    items: Callable[[str], list[Item]],
    judges: Any,
    skipped: list[dict[str, Any]] | None = None,
) -> Results:
    """Every task in the chat format; `two_format_tasks` also under a system prompt and without
    the chat template. After a
    relearning attack, items whose reference the attack trained on are left out (probe the rest);
    a task left with no item is skipped for that run and recorded in `skipped`."""
    seen = seen_texts(run) if run is not None else []
    out: Results = {}
    for name in tasks:
        task = TASKS.get(name)
        chosen = items(name)
        if seen:
            texts = set(seen)
            chosen = [i for i in held_out_items(chosen, seen) if i.prompt.text not in texts]
            if not chosen:
                if skipped is not None:
                    reason = "every item's reference is in the relearned texts"
                    skipped.append({"run": run.id, "task": name, "reason": reason})
                continue
        out[(name, "chat")] = task.evaluate(backend, chosen, judges=judges)
        if name in two_format_tasks:
            system = under_system_prompt(backend, system_prompt_for(run))
            out[(name, "system")] = task.evaluate(system, chosen, judges=judges)
            out[(name, "plain")] = task.evaluate(without_chat_template(backend), chosen, judges=judges)
    return out


def cell(
    spec: DefenseSpec,
    run: AttackRun | None,
    fmt: str,
    base: TaskResult,
    defended: TaskResult,
    policy: Policy,
    seed: int,
) -> DurabilityCell:
    """One comparison as plain data (what results.json, the report and the gate read)."""
    effect, _, _ = paired_effect(spec, base, defended, policy, seed=seed)
    r = effect.regression
    return {
        "defense": spec.name,
        "target": spec.target.value,
        "attack": run.attack.name if run else BEFORE,
        "kind": run.attack.kind if run else BEFORE,
        "run": run.id if run else BEFORE,
        "lr": run.lr if run else None,
        "seed": run.seed if run else None,
        "format": fmt,
        "task": base.task,
        "risk": base.risk.value,
        "gate": effect.gate,
        "regression": round(r.estimate * POINTS, 3),
        "low": round(r.low * POINTS, 3),
        "high": round(r.high * POINTS, 3),
        "p_value": float(effect.comparison.p_value),
        "verdict": effect.verdict,
        "finding": effect.finding,
        "tolerance": effect.tolerance,
        "base_value": float(base.value),
        "defended_value": float(defended.value),
        "n": effect.comparison.n,
    }


def durability_cells(
    base: Any,
    defended: Sequence[tuple[DefenseSpec, Any]],
    attacks: Sequence[AttackSpec],
    *,
    tasks: Sequence[str],
    items: Callable[[str], list[Item]],
    policy: Policy,
    judges: Any = None,
    seed: int = 0,
    cache_dir: Any = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Cells before attack and after every run of every attack, and what each training did."""
    began = time.perf_counter()
    two_format = {t for spec, _ in defended for t in TASKS.names(spec.target) if t in tasks}
    cells: list[DurabilityCell] = []
    trainings: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    options = {"tasks": tasks, "two_format_tasks": two_format, "items": items, "judges": judges, "skipped": skipped}

    def compare(run: AttackRun | None, base_results: Results, spec: DefenseSpec, results: Results) -> None:
        for (task, fmt), result in results.items():
            cells.append(cell(spec, run, fmt, base_results[(task, fmt)], result, policy, seed))

    before = evaluate(base, None, **options)
    for spec, backend in defended:
        compare(None, before, spec, evaluate(backend, None, **options))
    for attack in attacks:
        for run in attack.runs():
            start = time.perf_counter()
            attacked_base, record = attack_model(base, run, cache_dir)
            trainings.append({"model": "base", **record})
            base_results = evaluate(attacked_base, run, **options)
            del attacked_base
            for spec, backend in defended:
                attacked, record = attack_model(backend, run, cache_dir)
                trainings.append({"model": spec.name, **record})
                compare(run, base_results, spec, evaluate(attacked, run, **options))
                del attacked
                gc.collect()
            echo(f"durability: {run.id} done in {time.perf_counter() - start:.0f} s")
    return {
        "attacks": [a.as_dict() for a in attacks],
        "tasks": list(tasks),
        "formats": dict(FORMATS),
        "cells": cells,
        "trainings": trainings,
        "skipped": skipped,
        "seconds": round(time.perf_counter() - began, 1),
    }
