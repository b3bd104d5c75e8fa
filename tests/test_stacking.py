"""Stacked defenses: the models.toml entry, the order in which a stack is applied, and the
comparisons of a stack with its single defenses and with its other order (known answers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossrisk_bench.config.models_file import load_models
from crossrisk_bench.defenses.stack import apply_stack
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import Prompt
from crossrisk_bench.results import EffectRecord
from crossrisk_bench.verdict.stacking import stack_comparisons, stack_lines


def models(tmp_path: Path, text: str):
    path = tmp_path / "models.toml"
    path.write_text(text)
    return load_models(path)


def test_a_stack_entry_names_its_order_and_target(tmp_path: Path) -> None:
    (same, mixed) = models(
        tmp_path,
        '[[defended]]\ndefenses = ["guard_prompt", "refusal_sft"]\n\n'
        '[[defended]]\nname = "both"\ntarget = "privacy"\ndefenses = ["guard_prompt", "privacy_prompt"]\n',
    )
    assert (same.name, same.target.value, same.kind) == ("guard_prompt+refusal_sft", "safety", "stack")
    assert same.params["defenses"] == ["guard_prompt", "refusal_sft"] and same.params["kinds"] == ["prompt", "weights"]
    assert (mixed.name, mixed.target.value) == ("both", "privacy")


@pytest.mark.parametrize(
    "entry, message",
    [
        ('defenses = ["guard_prompt", "privacy_prompt"]', r"aim at \['privacy', 'safety'\]; give the stack a 'target'"),
        ('defenses = ["guard_prompt", "nope"]', "unknown defense 'nope'; known defenses: guard_prompt"),
        ('defenses = ["guard_prompt"]', "two or more"),
        ('defenses = ["guard_prompt", "guard_prompt"]', "names a defense twice"),
        ('defenses = ["guard_prompt", "self_reminder"]\nbase = "x"', r"not \['base'\]"),
    ],
)
def test_bad_stacks_are_one_error_naming_the_entry(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(CrossriskError, match=message):
        models(tmp_path, f"[[defended]]\n{entry}\n")


def test_prompt_defenses_stack_in_their_listed_order(make_backend) -> None:
    base = make_backend()
    one, other = apply_stack(base, ["guard_prompt", "fair_prompt"]), apply_stack(base, ["fair_prompt", "guard_prompt"])
    assert one.fingerprint != other.fingerprint and one.name.endswith("+guard_prompt+fair_prompt")
    seen = one.base.rewrite(one.rewrite(Prompt.chat("hi")))  # what the model receives through both wrappers
    assert seen.system_prompt.startswith("You are a responsible assistant") and "Treat all people" in seen.system_prompt
    swapped = other.base.rewrite(other.rewrite(Prompt.chat("hi")))
    assert swapped.system_prompt.startswith("Treat all people equally")


def test_a_pre_exposure_defense_cannot_follow_another_weights_defense(make_backend) -> None:
    with pytest.raises(CrossriskError, match="dp_finetune trains from the model before privacy exposure"):
        apply_stack(make_backend(), ["refusal_sft", "dp_finetune"])


def record(name: str, defenses: list[str] | None, defended: list[float], task: str = "misuse") -> EffectRecord:
    spec = {"name": name, "target": "safety", "kind": "stack" if defenses else "prompt"}
    if defenses:
        spec["params"] = {"defenses": defenses}
    return EffectRecord.from_json(
        {
            "defense": spec,
            "task": task,
            "task_risk": "safety",
            "n": len(defended),
            "regression": 0.0,
            "regression_ci": [0.0, 0.0],
            "p_value": 1.0,
            "label": "neutral",
            "items": [{"id": f"i{n}", "base": 0.0, "defended": v} for n, v in enumerate(defended)],
        }
    )


def test_stack_comparisons_pair_items_and_test_the_order() -> None:
    a = record("a", None, [1.0] * 40)
    b = record("b", None, [1.0] * 20 + [0.0] * 20)
    ab = record("a+b", ["a", "b"], [0.0] * 40)
    ba = record("b+a", ["b", "a"], [0.0] * 38 + [1.0] * 2)
    rows = stack_comparisons([a, b, ab, ba], confidence=0.95)
    by = {(r["stack"], r["versus"]): r for r in rows}
    assert by[("a+b", "a")]["delta"] == -100.0 and by[("a+b", "a")]["differs"]
    assert by[("a+b", "b")]["delta"] == -50.0 and by[("a+b", "b")]["test"] == "mcnemar-exact"
    order = [r for r in rows if r["comparison"] == "order"]
    assert len(order) == 1 and order[0]["delta"] == -5.0 and not order[0]["differs"]  # 2 discordant pairs: p = 0.5
    assert by[("b+a", "a")]["n"] == 40 and len(rows) == 5
    assert any("order not shown to matter" in line for line in stack_lines(rows))
    other_task = [record(n, d, v, "jailbreak") for n, d, v in (("a", None, [0.0]), ("b", None, [0.0]))]
    other_task += [record("a+b", ["a", "b"], [1.0], "jailbreak"), record("b+a", ["b", "a"], [1.0], "jailbreak")]
    both = stack_comparisons([a, b, ab, ba, *other_task], confidence=0.95)
    assert sorted(r["task"] for r in both if r["comparison"] == "order") == ["jailbreak", "misuse"]  # one per task
    assert stack_comparisons([a, b], confidence=0.95) == []
    assert stack_comparisons([record("a+b", ["a", "b"], [0.0] * 4, "membership_inference")], confidence=0.95) == []


def test_stack_comparisons_cluster_as_the_gate_did() -> None:
    """A task the gate clustered (its record names the slice key) is compared by clusters too:
    40 items in 5 clusters that move together are not 40 independent pieces of evidence."""

    def clustered(name: str, defenses: list[str] | None, defended: list[float]) -> EffectRecord:
        data = record(name, defenses, defended).to_json() | {"clustered_by": "group"}
        for n, item in enumerate(data["items"]):
            item["slices"] = {"group": f"g{n // 8}"}
        return EffectRecord.from_json(data)

    flips = [1.0] * 8 + [0.0] * 32  # one whole cluster differs
    single, stack = clustered("a", None, [0.0] * 40), clustered("a+b", ["a", "b"], flips)
    row = stack_comparisons([single, stack], confidence=0.95)[0]
    assert row["test"] == "mcnemar-exact+sign-flip-clustered" and not row["differs"]
    unclustered = stack_comparisons([record("a", None, [0.0] * 40), record("a+b", ["a", "b"], flips)], confidence=0.95)
    assert unclustered[0]["test"] == "mcnemar-exact" and unclustered[0]["differs"]  # 8 of 8 discordant: p=0.008


def test_the_document_takes_the_stack_rows_made_for_the_terminal_or_makes_them_at_the_runs_confidence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stack comparisons are made once: results_document keeps rows it is given, and otherwise makes
    them at the confidence the run recorded (its policy's), never at a built-in 95%."""
    from crossrisk_bench.report import outputs

    a, ab = record("a", None, [1.0] * 40), record("a+b", ["a", "b"], [0.0] * 38 + [1.0] * 2)
    made = stack_comparisons([a, ab], confidence=0.9)
    calls: list[float] = []

    def counted(records, *, confidence, seed=0):
        calls.append(confidence)
        return stack_comparisons(records, confidence=confidence, seed=seed)

    monkeypatch.setattr(outputs, "stack_comparisons", counted)
    given = outputs.results_document([a, ab], run={"confidence": 0.9}, task_order=["misuse"], stacks=made)
    assert given.stacks is made and calls == []
    own = outputs.results_document([a, ab], run={"confidence": 0.9}, task_order=["misuse"])
    assert calls == [0.9] and own.stacks == made and own.stacks[0]["confidence"] == 0.9
    assert outputs.results_document([a], run={"confidence": 0.9}, task_order=["misuse"]).stacks is None
