"""Neuron analysis: attributions match finite differences on the tiny model; the set difference,
the sign rule and the random baseline behave as specified on constructed cases."""

from __future__ import annotations

import numpy as np
import pytest

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import Prompt
from crossrisk_bench.neurons.attribution import attribute, down_projections, mean_activations
from crossrisk_bench.neurons.sets import (
    conflict_entangled,
    critical_set,
    jaccard,
    overlap_baseline,
    random_like,
    top_fraction,
)
from crossrisk_bench.results import EffectRecord
from crossrisk_bench.training.config import Example
from crossrisk_bench.training.data import collate, encode

CALIBRATION = [Example(Prompt.chat(f"What colour is the {t}?"), f"The {t} is red.") for t in ("apple", "car", "door")]


def objective(backend, examples, layer: int, neuron: int, scale: float) -> float:
    """Sum over prompts of the mean log-prob of the target, with one neuron's activation scaled."""
    import torch

    proj = down_projections(backend.model)[layer]

    def scale_neuron(module, args):
        x = args[0].clone()
        x[..., neuron] *= scale
        return (x,)

    handle = proj.register_forward_pre_hook(scale_neuron)
    try:
        with torch.no_grad():
            batch = collate([encode(backend, e.prompt, e.target, 128) for e in examples], backend.pad_id)
            logits = (
                backend.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
                .logits[:, :-1]
                .double()
            )
            logp = torch.log_softmax(logits, -1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
            mask = batch["target_mask"][:, 1:].double()
            return float(((logp * mask).sum(-1) / mask.sum(-1)).sum())
    finally:
        handle.remove()


def test_signed_attribution_matches_a_finite_difference(make_backend) -> None:
    backend = make_backend()
    result = attribute(backend, CALIBRATION, "safety", chunk=2)
    assert result.signed.shape == result.importance.shape == (4, 256)
    assert (result.importance >= np.abs(result.signed) - 1e-12).all()
    strongest = np.dstack(np.unravel_index(np.argsort(-np.abs(result.signed).ravel())[:3], result.signed.shape))[0]
    eps = 1e-3
    for layer, neuron in strongest:
        numeric = (
            (
                objective(backend, CALIBRATION, layer, neuron, 1 + eps)
                - objective(backend, CALIBRATION, layer, neuron, 1 - eps)
            )
            / (2 * eps)
            / len(CALIBRATION)
        )
        assert numeric == pytest.approx(result.signed[layer, neuron], rel=0.02, abs=1e-6)


def test_chunking_does_not_change_the_scores_and_leaves_the_model_as_it_was(make_backend) -> None:
    backend = make_backend()
    fingerprint = backend.fingerprint
    whole, chunked = attribute(backend, CALIBRATION, "x", chunk=3), attribute(backend, CALIBRATION, "x", chunk=1)
    assert np.allclose(whole.signed, chunked.signed, atol=1e-6)
    assert backend.refresh_fingerprint() == fingerprint
    assert all(p.requires_grad for p in backend.model.parameters()) or not any(
        p.requires_grad for p in backend.model.parameters()
    )
    assert mean_activations(backend, CALIBRATION).shape == (4, 256)
    with pytest.raises(CrossriskError, match="chunk must be 1..50"):
        attribute(backend, CALIBRATION, "x", chunk=51)


def test_critical_set_is_top_q_minus_top_p_for_utility() -> None:
    risk = np.array([[9.0, 8.0, 7.0, 1.0], [6.0, 0.0, 0.0, 0.0]])
    utility = np.array([[10.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert top_fraction(risk, 0.5).sum() == 4
    critical = critical_set(risk, utility, q=0.5, p=0.125)  # top 4 by risk minus top 1 by utility
    assert critical.tolist() == [[False, True, True, False], [True, False, False, False]]


def test_conflict_needs_both_sets_and_opposite_signs() -> None:
    a = np.array([[True, True, True, False]])
    b = np.array([[True, True, False, True]])
    signed_a = np.array([[1.0, -2.0, 1.0, 1.0]])
    signed_b = np.array([[-1.0, -1.0, -1.0, -1.0]])
    assert conflict_entangled(a, b, signed_a, signed_b).tolist() == [[True, False, False, False]]
    assert jaccard(a, b) == pytest.approx(2 / 4)


def test_random_baseline_is_seeded_and_detects_excess_overlap() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((6, 100)) < 0.1
    first, again = overlap_baseline(a, a, seed=3, draws=200), overlap_baseline(a, a, seed=3, draws=200)
    assert first == again
    assert first.ratio > 5 and first.p_value < 0.01
    b = rng.random((6, 100)) < 0.1
    independent = overlap_baseline(a, b, seed=3, draws=200)
    assert independent.p_value > 0.01
    control = random_like(a, seed=1, exclude=a)
    assert (control.sum(1) == a.sum(1)).all() and not (control & a).any()
    assert (random_like(a, seed=1, exclude=a) == control).all()


def _effect(defense: str, task: str, risk: str, delta: float) -> EffectRecord:
    return EffectRecord(
        {"name": defense, "target": "safety"},
        task,
        risk,
        n=1,
        regression=delta,
        regression_ci=(delta, delta),
        p_value=1.0,
        label="neutral",
        delta=delta,
    )


def test_pipeline_end_to_end_on_the_tiny_model(make_backend) -> None:
    from crossrisk_bench.neurons.analysis import analyse, calibration_examples
    from crossrisk_bench.training.config import TrainConfig
    from crossrisk_bench.training.loop import train

    base = make_backend()
    defended = make_backend()
    refusals = calibration_examples("safety", 8)
    model, _ = train(defended, refusals, TrainConfig(steps=6, lr=1e-2, batch_size=4, threads=1, lora_r=4))
    defended.model = model.merge_and_unload().eval()
    defended.refresh_fingerprint()
    effects = [
        _effect("sft", "bias_agreement", "fairness", 0.25),
        _effect("sft", "pii_leakage", "privacy", -0.1),
    ]
    out = analyse(base, {"sft": ("safety", defended)}, effects, per_task=4, q=0.2, p=0.05, causal_items=4, draws=50)
    assert [f["pair"] for f in out["pairs"]] == [["safety", "fairness"], ["safety", "privacy"], ["fairness", "privacy"]]
    for f in out["pairs"]:
        assert sum(f["per_layer"]) == f["entangled"] <= min(f["critical_sizes"])
        assert 0.0 <= f["jaccard"] <= 1.0 and 0 < f["overlap_p_value"] <= 1
    assert out["calibration"]["fairness"] == 8 and out["params"]["layers"] == 4
    for t in out["trends"]:
        assert t["defense"] == "sft" and t["risk"] in ("fairness", "privacy")
        assert t["activation_shift_abs"] >= abs(t["activation_shift"]) and t["activation_shift_abs_all"] > 0
    for c in out["causal"]:
        assert c["task"] == "bias_agreement" and isinstance(c["shrinks_more_than_random"], bool)
    again = analyse(base, {"sft": ("safety", defended)}, effects, per_task=4, q=0.2, p=0.05, causal_items=4, draws=50)
    assert again == out  # seeded end to end


NEURON_SUITE = """
def test_bias_agreement(crossrisk_gate):
    crossrisk_gate("bias_agreement")

def test_misuse(crossrisk_gate):
    crossrisk_gate("misuse")

def test_utility(crossrisk_gate):
    crossrisk_gate("utility")
"""


def test_neurons_command_adds_its_section_to_a_saved_run(pytester: pytest.Pytester, tiny_dir, tmp_path) -> None:
    import json

    from crossrisk_bench.cli import main

    pytester.makepyfile(test_suite=NEURON_SUITE)
    models = tmp_path / "models.toml"
    models.write_text('[[defended]]\ndefense = "refusal_sft"\n\n[[defended]]\ndefense = "fair_prompt"\n')
    cache, report = tmp_path / "cache", tmp_path / "report"
    run = pytester.runpytest_subprocess(
        "--crossrisk-model",
        str(tiny_dir),
        "--crossrisk-cache",
        str(cache),
        "--crossrisk-limit",
        "4",
        "--crossrisk-models",
        str(models),
        "--crossrisk-report",
        str(report),
        "--crossrisk-threads",
        "1",
    )
    assert run.ret in (0, 1)  # gates may fail on the tiny model; the report is what matters here
    code = main(
        [
            "neurons",
            str(report / "results.json"),
            "--per-task",
            "4",
            "--q",
            "0.2",
            "--causal-items",
            "4",
            "--cache",
            str(cache),
        ]
    )
    assert code == 0
    document = json.loads((report / "results.json").read_text())
    section = document["neurons"]
    assert section["skipped_defenses"] == ["fair_prompt"] and len(section["pairs"]) == 3
    assert (report / "neurons.png").read_bytes()[:4] == b"\x89PNG"
    assert "Conflict-entangled neurons" in (report / "model-card.md").read_text()
    assert "Conflict-entangled neurons" in (report / "report.html").read_text()


def test_neuron_tests_are_opt_in_and_report_their_findings(pytester: pytest.Pytester, tiny_dir, tmp_path) -> None:
    import json
    import shutil

    from crossrisk_bench.paths import FIXTURES

    shutil.copy(FIXTURES.parent / "benchmarks" / "test_neurons.py", pytester.path / "test_neurons.py")
    models = tmp_path / "models.toml"
    models.write_text('[[defended]]\ndefense = "refusal_sft"\n\n[[defended]]\ndefense = "fair_prompt"\n')
    args = [
        "--crossrisk-model",
        str(tiny_dir),
        "--crossrisk-cache",
        str(tmp_path / "cache"),
        "--crossrisk-limit",
        "4",
        "--crossrisk-models",
        str(models),
        "--crossrisk-threads",
        "1",
    ]
    default = pytester.runpytest_subprocess(*args)
    default.assert_outcomes(skipped=6)
    run = pytester.runpytest_subprocess(*args, "--crossrisk-neurons", "--crossrisk-report", str(tmp_path / "r"), "-rs")
    outcomes = run.parseoutcomes()
    assert outcomes.get("skipped") == 4  # fair_prompt (3 pairs) and refusal_sft on fairness/privacy
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 2
    section = json.loads((tmp_path / "r" / "results.json").read_text())["neurons"]
    assert {t["defense"] for t in section["trends"]} <= {"refusal_sft"} and len(section["pairs"]) == 3


@pytest.mark.slow
def test_pipeline_end_to_end_on_smollm2() -> None:
    from crossrisk_bench.defenses import get_defense
    from crossrisk_bench.models.cache import default_cache_dir
    from crossrisk_bench.models.loader import ModelSpec, load_backend
    from crossrisk_bench.neurons.analysis import analyse

    base = load_backend(ModelSpec("smollm2-135m-exposed"), cache_dir=default_cache_dir())
    defended = get_defense("debias_sft").apply(base)
    effects = [_effect("debias_sft", "pii_leakage", "privacy", 0.1)]
    out = analyse(
        base, {"debias_sft": ("fairness", defended)}, effects, per_task=2, q=0.05, p=0.05, causal_items=2, draws=100
    )
    assert out["params"]["layers"] == 30 and out["params"]["neurons_per_layer"] == 1536
    assert all(f["critical_sizes"][0] > 0 for f in out["pairs"])
    assert {t["risk"] for t in out["trends"]} <= {"privacy", "safety"}
    assert all(c["items"] == 2 for c in out["causal"])
