"""Neuron analysis: attributions match finite differences on the tiny model; the set difference,
the sign rule and the random baseline behave as specified on constructed cases."""

from __future__ import annotations

import numpy as np
import pytest

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import Prompt
from crossrisk_bench.neurons.attribution import attribute, down_projections
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


def direct_mean_activation(backend, examples) -> np.ndarray:
    """Each neuron's activation averaged over every token of the rendered prompt + target, one
    example at a time (no padding), as a reference for the batched, chunked pass."""
    import torch

    layers = down_projections(backend.model)
    total, count, seen = np.zeros((len(layers), layers[0].in_features)), 0, []
    handles = [
        m.register_forward_pre_hook(lambda module, args: seen.append(args[0][0].double().sum(0))) for m in layers
    ]
    try:
        with torch.no_grad():
            for e in examples:
                ids = torch.tensor([encode(backend, e.prompt, e.target, 128).ids])
                seen.clear()
                backend.model(input_ids=ids)
                total += torch.stack(seen).numpy()
                count += ids.shape[1]
    finally:
        for h in handles:
            h.remove()
    return total / count


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
    assert np.allclose(whole.mean_activation, direct_mean_activation(backend, CALIBRATION), atol=1e-6)
    assert whole.wanda.shape == (4, 256) and (whole.wanda >= 0).all()
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
    from crossrisk_bench.config.policy import load_policy
    from crossrisk_bench.neurons.analysis import analyse, calibration_examples
    from crossrisk_bench.neurons.brittleness import rose
    from crossrisk_bench.paths import FIXTURES
    from crossrisk_bench.tasks import TASKS
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
    assert "brittleness" not in out  # the removal curves need a policy to judge them
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
    policy = load_policy(FIXTURES / "policy.toml", known_tasks=TASKS.names())
    again = analyse(
        base,
        {"sft": ("safety", defended)},
        effects,
        per_task=4,
        q=0.2,
        p=0.05,
        causal_items=4,
        draws=50,
        policy=policy,
        brittleness_items=4,
        sparsities=(0.005, 0.01, 0.03),
    )
    brittle = again.pop("brittleness")
    again.pop("phase_seconds"), out.pop("phase_seconds")
    assert again == out  # seeded end to end; the curves add to the analysis, change nothing in it
    for key in {(c["model"], c["risk"], c["mode"]) for c in brittle["curves"]}:
        points = [c for c in brittle["curves"] if (c["model"], c["risk"], c["mode"]) == key]
        assert points[0]["sparsity"] == 0.03 and points[0]["selection"] == "critical"
        if key[2] == "zero":  # zeroing shows what as many random neurons cost at the largest sparsity
            assert any(c["selection"] == "random" and c["sparsity"] == 0.03 for c in points)
        critical = [c for c in points if c["selection"] == "critical"]
        for larger, smaller in zip(critical, critical[1:]):  # a smaller region only after a rise
            assert larger["sparsity"] > smaller["sparsity"] and rose(larger)
        for c in points:
            if c["selection"] == "random" and (c["sparsity"] < 0.03 or key[2] == "restore"):
                assert rose(next(d for d in critical if d["sparsity"] == c["sparsity"]))


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
    from crossrisk_bench.neurons.brittleness import rose

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
            "--importance",
            "wanda",
            "--sparsities",
            "0.01,0.03",
            "--brittleness-items",
            "4",
            "--full-curves",
        ]
    )
    assert code == 0
    document = json.loads((report / "results.json").read_text())
    section = document["neurons"]
    assert section["skipped_defenses"] == ["fair_prompt"] and len(section["pairs"]) == 3
    assert section["params"]["importance"] == "wanda" and section["calibration"]["utility"] >= 64
    curves = section["brittleness"]["curves"]
    # refusal_sft (the only weight defense) zeroed and restored on safety; the base on the others
    points = {(c["model"], c["risk"], c["mode"], c["sparsity"], c["selection"]) for c in curves}
    for model, risk, modes in (
        ("refusal_sft", "safety", ("zero", "restore")),
        (str(tiny_dir), "fairness", ("zero",)),
        (str(tiny_dir), "privacy", ("zero",)),
    ):
        for mode in modes:
            assert (model, risk, mode, 0.03, "critical") in points
        assert (model, risk, "zero", 0.03, "random") in points and (model, risk, "zero", 0.01, "critical") in points
    assert not any(c["mode"] == "restore" and c["sparsity"] == 0.01 for c in curves)
    critical = {(c["model"], c["risk"], c["mode"], c["sparsity"]): c for c in curves if c["selection"] == "critical"}
    for c in curves:  # a random control beyond the largest zeroing only where the critical removal rose
        if c["selection"] == "random" and (c["sparsity"] < 0.03 or c["mode"] == "restore"):
            assert rose(critical[(c["model"], c["risk"], c["mode"], c["sparsity"])])
    assert all(c["neurons"] == round(c["sparsity"] * 4 * 256) and c["items"] == 4 for c in curves)
    assert len(section["brittleness"]["verdicts"]) == 4  # safety zero and restore, fairness, privacy
    assert {s["risk"] for s in section["brittleness"]["spill_over"]} == {"fairness", "privacy"}
    assert (report / "neurons.png").read_bytes()[:4] == (report / "brittleness.png").read_bytes()[:4] == b"\x89PNG"
    card, page = (report / "model-card.md").read_text(), (report / "report.html").read_text()
    assert "Conflict-entangled neurons" in card and "Conflict-entangled neurons" in page
    assert "Brittleness" in card and "Brittleness" in page
    assert "| refusal_sft | safety (misuse) | restore | 3.0% |" in card  # a point without its random control too


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


PLANTED_LAYER, PLANTED = 2, tuple(range(40, 56))  # 16 of the tiny model's 4 x 256 MLP neurons
OTHER = [Example(Prompt.chat(f"Name a {t}."), f"A {t} such as this one.") for t in ("fruit", "city", "tool", "song")]


def plant_region(backend, *, steps: int = 100) -> None:
    """Train only the planted neurons (gate/up rows and down column of one layer) until the
    calibration targets are likely, while their activations stay near zero on other prompts:
    a behaviour that lives in a known sparse region and nowhere else."""
    import torch

    mlp = [m for m in backend.model.modules() if hasattr(m, "down_proj")][PLANTED_LAYER]
    weights = [mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight]
    masks = [torch.zeros_like(w) for w in weights]
    rows = torch.tensor(PLANTED)
    masks[0][rows] = masks[1][rows] = 1.0
    masks[2][:, rows] = 1.0
    for p in backend.model.parameters():
        p.requires_grad_(False)
    for w in weights:
        w.requires_grad_(True)
    captured = []
    handle = mlp.down_proj.register_forward_pre_hook(lambda module, args: captured.append(args[0][..., rows]))
    optimiser = torch.optim.Adam(weights, lr=1e-2)
    batch = collate([encode(backend, e.prompt, e.target, 128) for e in CALIBRATION], backend.pad_id)
    other = collate([encode(backend, e.prompt, e.target, 128) for e in OTHER], backend.pad_id)
    backend.model.train()
    try:
        for _ in range(steps):
            captured.clear()
            logits = backend.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
            logp = torch.log_softmax(logits, -1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
            mask = batch["target_mask"][:, 1:]
            backend.model(input_ids=other["input_ids"], attention_mask=other["attention_mask"])
            selective = (captured[1].square() * other["attention_mask"][:, :, None]).mean()
            loss = -((logp * mask).sum(-1) / mask.sum(-1)).mean() + 1.0 * selective
            optimiser.zero_grad()
            loss.backward()
            for w, m in zip(weights, masks):
                w.grad *= m
            optimiser.step()
    finally:
        handle.remove()
    backend.model.eval()
    for w in weights:
        w.requires_grad_(False)
    backend.refresh_fingerprint()


def _target_logprob(backend, examples) -> float:
    """Mean per-token log-prob of the targets (the objective with no neuron scaled)."""
    return objective(backend, examples, 0, 0, 1.0) / len(examples)


@pytest.mark.parametrize("method", ["snip", "wanda"])
def test_a_planted_sparse_region_is_found_and_its_removal_flips_the_behaviour(make_backend, method) -> None:
    from crossrisk_bench.neurons.brittleness import removed
    from crossrisk_bench.neurons.sets import sparse_region

    base = make_backend()
    planted = make_backend()
    plant_region(planted)
    fingerprint = planted.fingerprint
    before, after = _target_logprob(base, CALIBRATION), _target_logprob(planted, CALIBRATION)
    assert after > before + 0.5  # the planted behaviour: the targets became far likelier

    risk = attribute(planted, CALIBRATION, "safety")
    utility = attribute(planted, OTHER, "utility")
    sparsity = 2 * len(PLANTED) / risk.signed.size  # a region twice the planted size: chance recall 3%
    region = sparse_region(risk.scores(method), utility.scores(method), sparsity=sparsity, p=0.02)
    found = {int(n) for n in np.flatnonzero(region[PLANTED_LAYER])}
    recall = len(found & set(PLANTED)) / len(PLANTED)
    # Chance expects 0.5 of the 16 planted neurons in a 32-neuron region among 1,024 (4 or more:
    # hypergeometric p = 0.001). Recall depends on the CPU's float arithmetic through the planting's
    # 100 Adam steps: measured 56% / 56% (snip / wanda) on an AMD EPYC, 31% / 38% on an Intel Xeon.
    assert recall >= 0.25, f"{method} found {recall:.0%} of the planted neurons"

    # the control avoids every planted neuron, found or not: it asks whether the behaviour survives
    # losing as many neurons that are not the planted region
    planted_mask = np.zeros_like(region)
    planted_mask[PLANTED_LAYER, PLANTED] = True
    fingerprints = set()
    for mode in ("zero", "restore"):
        with removed(planted, region, mode=mode, base=base) as changed:
            flipped = _target_logprob(changed, CALIBRATION)
            fingerprints.add(changed.fingerprint)
        assert flipped < after - 0.5 * (after - before), f"removing the found region ({mode}) left the behaviour"
    kept = []
    for seed in range(8):  # zeroing random early-layer neurons of a tiny random model costs a little, and varies
        with removed(planted, random_like(region, seed=seed, exclude=region | planted_mask)) as changed:
            kept.append(_target_logprob(changed, CALIBRATION))
    # measured on the Intel Xeon: the found region takes 83% / 98% of the gain, random ones 9% / 15% in median
    assert float(np.median(kept)) > after - 0.25 * (after - before), (
        "removing as many random neurons broke the behaviour"
    )
    assert len(fingerprints) == 2 and planted.fingerprint not in fingerprints
    assert _target_logprob(planted, CALIBRATION) == pytest.approx(after, abs=1e-9)  # put back on exit
    assert planted.refresh_fingerprint() == fingerprint


def test_restoring_every_changed_neuron_gives_the_base_back(make_backend) -> None:
    import torch

    from crossrisk_bench.neurons.brittleness import removed

    base, planted = make_backend(), make_backend()
    plant_region(planted)
    mask = np.zeros((4, 256), dtype=bool)
    mask[PLANTED_LAYER, list(PLANTED)] = True
    with removed(planted, mask, mode="restore", base=base) as restored:
        for (name, a), b in zip(restored.model.state_dict().items(), base.model.state_dict().values()):
            assert torch.equal(a, b), name
        assert restored.fingerprint == base.fingerprint
    assert planted.refresh_fingerprint() != base.fingerprint  # the planted weights are back


def test_sparse_region_is_top_by_risk_outside_the_utility_top() -> None:
    from crossrisk_bench.neurons.sets import sparse_region

    risk = np.array([[9.0, 8.0, 7.0, 1.0], [6.0, 5.0, 0.0, 0.0]])
    utility = np.array([[10.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    region = sparse_region(risk, utility, sparsity=0.375, p=0.125)  # 3 of 8, neuron (0, 0) excluded
    assert region.tolist() == [[False, True, True, False], [True, False, False, False]]
    with pytest.raises(ValueError, match="sparsity"):
        sparse_region(risk, utility, sparsity=0.0, p=0.1)


def _curve_record(sparsity: float, selection: str, low: float, p: float, utility: str) -> dict:
    return {
        "model": "m",
        "risk": "safety",
        "mode": "zero",
        "task": "misuse",
        "sparsity": sparsity,
        "selection": selection,
        "risk_change": {"ci": [low, low + 0.3], "p_value": p, "headroom": None},
        "utility_change": {"verdict": utility},
    }


def test_a_sparse_region_needs_a_significant_rise_that_random_removal_does_not_give() -> None:
    from crossrisk_bench.neurons.brittleness import verdict

    curve = [
        _curve_record(0.005, "critical", -0.1, 0.4, "pass"),
        _curve_record(0.005, "random", -0.1, 0.5, "pass"),
        _curve_record(0.01, "critical", 0.1, 0.01, "fail"),  # utility broke too: not a sparse region
        _curve_record(0.01, "random", -0.2, 0.9, "pass"),
        _curve_record(0.03, "critical", 0.2, 0.001, "inconclusive"),
        _curve_record(0.03, "random", -0.1, 0.7, "pass"),
    ]
    found = verdict(curve)
    assert found["sparse_region"] and found["at_sparsity"] == 0.03 and found["utility_held"] is False
    both = [r | ({"risk_change": {"ci": [0.1, 0.4], "p_value": 0.01, "headroom": None}}) for r in curve]
    assert not verdict(both)["sparse_region"]  # random removal raises the risk as much: no region
