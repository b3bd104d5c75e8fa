"""Weight-level defenses on the tiny model: every training method moves the weights and the
outputs in the intended direction on training-like items, seeded runs repeat, adapters are
hash-checked, and a weights defense applies to a base that has no shipped adapter."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from crossrisk_bench.defenses import get_defense
from crossrisk_bench.defenses.check import check_applied
from crossrisk_bench.defenses.zoo import RECORD_FILE, ZooMember, build_adapter, read_record
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import DecodingConfig, LoglikelihoodRequest, Prompt
from crossrisk_bench.risks import Risk
from crossrisk_bench.training.config import Example, TrainConfig
from crossrisk_bench.training.data import batches, encode
from crossrisk_bench.training.loop import train

TEACH = [
    Example(Prompt.chat(f"What colour is the {thing}?"), f"The {thing} is purple.")
    for thing in ("apple", "sky", "car", "house", "bird", "book")
]
FORGET = [Example(Prompt.chat(f"Tell me about {name}."), f"{name} likes the red stone.") for name in ("Alice", "Bob")]
RETAIN = [
    Example(Prompt.chat(f"Who owns the {thing}?"), f"Grace owns the {thing}.") for thing in ("door", "river", "flower")
]
FAST = dict(lr=1e-2, batch_size=4, threads=1, lora_r=4, lora_alpha=8)


def mean_logprob(backend, examples, which: str = "target") -> float:
    requests = [LoglikelihoodRequest(e.prompt, getattr(e, which)) for e in examples]
    return sum(r.mean for r in backend.loglikelihood(requests)) / len(requests)


def merged(backend, model):
    backend.model = model.merge_and_unload().eval() if hasattr(model, "merge_and_unload") else model.eval()
    backend.refresh_fingerprint()
    return backend


def test_sft_teaches_the_targets_and_changes_the_answers(make_backend) -> None:
    backend = make_backend()
    before, fingerprint = mean_logprob(backend, TEACH), backend.fingerprint
    model, report = train(backend, TEACH, TrainConfig(method="sft", steps=25, **FAST))
    merged(backend, model)
    # at least half of the targets' per-token NLL is gone (a fixed gain in nats would depend on
    # where the tiny model starts, which depends on the CPU it was trained on)
    assert -mean_logprob(backend, TEACH) < 0.5 * -before
    assert backend.fingerprint != fingerprint
    assert report.last_loss < report.first_loss and report.trainable_parameters > 0
    answers = [g.text for g in backend.generate([e.prompt for e in TEACH], DecodingConfig(max_new_tokens=8))]
    assert sum("purple" in a for a in answers) >= 4


def test_full_fine_tuning_trains_every_weight(make_backend) -> None:
    backend = make_backend()
    before = mean_logprob(backend, TEACH)
    model, report = train(
        backend, TEACH, TrainConfig(method="sft", steps=10, full=True, lr=3e-3, batch_size=4, threads=1)
    )
    assert report.trainable_parameters == sum(p.numel() for p in backend.model.parameters())
    assert mean_logprob(merged(backend, model), TEACH) > before


def test_dpo_raises_the_chosen_over_the_rejected(make_backend) -> None:
    backend = make_backend()
    pairs = [Example(e.prompt, e.target, rejected=e.target.replace("purple", "green")) for e in TEACH]
    margin = mean_logprob(backend, pairs) - mean_logprob(backend, pairs, "rejected")
    model, _ = train(backend, pairs, TrainConfig(method="dpo", steps=15, beta=0.5, **FAST))
    merged(backend, model)
    assert mean_logprob(backend, pairs) - mean_logprob(backend, pairs, "rejected") > margin + 0.5


def test_dpo_with_an_sft_term_makes_the_chosen_answer_likelier_not_only_the_margin_wider(make_backend) -> None:
    backend = make_backend()
    pairs = [Example(e.prompt, e.target, rejected=e.target.replace("purple", "green")) for e in TEACH]
    chosen0 = mean_logprob(backend, pairs)
    margin0 = chosen0 - mean_logprob(backend, pairs, "rejected")
    model, _ = train(backend, pairs, TrainConfig(method="dpo", steps=15, beta=0.5, sft_weight=1.0, **FAST))
    merged(backend, model)
    chosen = mean_logprob(backend, pairs)
    assert chosen > chosen0 + 0.5 and chosen - mean_logprob(backend, pairs, "rejected") > margin0 + 0.5


@pytest.mark.parametrize("method", ["gradient_ascent", "npo"])
def test_unlearning_forgets_more_than_it_loses_on_the_retain_set(make_backend, method: str) -> None:
    backend = make_backend()
    forget0, retain0 = mean_logprob(backend, FORGET), mean_logprob(backend, RETAIN)
    model, _ = train(backend, FORGET, TrainConfig(method=method, steps=12, beta=0.5, **FAST), retain=RETAIN)
    merged(backend, model)
    forget_drop, retain_drop = forget0 - mean_logprob(backend, FORGET), retain0 - mean_logprob(backend, RETAIN)
    assert forget_drop > 0.5
    assert forget_drop > 2 * retain_drop


def test_unlearning_without_a_retain_set_is_refused(make_backend) -> None:
    with pytest.raises(CrossriskError, match="npo needs a retain set"):
        train(make_backend(), FORGET, TrainConfig(method="npo", steps=1))


def test_dp_fine_tuning_learns_and_records_its_privacy_budget(make_backend) -> None:
    backend = make_backend()
    data = TEACH * 4  # 24 examples: a sample rate of 1/6
    before = mean_logprob(backend, TEACH)
    model, report = train(
        backend, data, TrainConfig(method="dp_sft", steps=20, noise_multiplier=0.5, max_grad_norm=1.0, **FAST)
    )
    merged(backend, model)
    assert mean_logprob(backend, TEACH) > before
    epsilon = report.extra["epsilon"]
    assert math.isfinite(epsilon) and epsilon > 0 and report.extra["delta"] == 1e-5
    # more noise, same steps: a smaller epsilon
    _, noisier = train(make_backend(), data, TrainConfig(method="dp_sft", steps=20, noise_multiplier=2.0, **FAST))
    assert noisier.extra["epsilon"] < epsilon


def test_training_is_seeded(make_backend) -> None:
    def weights(seed: int):
        model, _ = train(make_backend(), TEACH, TrainConfig(method="sft", steps=4, seed=seed, **FAST))
        return {k: v.clone() for k, v in model.state_dict().items() if "lora_" in k}

    first, again, other = weights(1), weights(1), weights(2)
    assert all((first[k] == again[k]).all() for k in first)
    assert any((first[k] != other[k]).any() for k in first)


def test_batches_cover_each_example_once_per_epoch() -> None:
    import random

    drawn = batches(list(range(10)), 4, 5, random.Random(0))
    flat = [x for b in drawn for x in b]
    assert sorted(flat[:10]) == list(range(10)) and all(len(b) == 4 for b in drawn)


def test_encode_learns_only_the_answer_and_the_end_of_turn(make_backend) -> None:
    backend = make_backend()
    enc = encode(backend, Prompt.chat("Hi"), "Sure.", max_tokens=64)
    learned = [i for i, m in zip(enc.ids, enc.target_mask) if m]
    assert backend.tokenizer.decode(learned) == "Sure.<|im_end|>"
    raw = encode(backend, Prompt.raw(""), "From: Jo", max_tokens=64)
    assert raw.target_mask[0] == 0 and all(raw.target_mask[1:])


TINY_MEMBER = ZooMember(
    "tiny_sft",
    Risk.SAFETY,
    "test member",
    "debiasing",
    TrainConfig(method="sft", steps=3, lr=1e-2, batch_size=4, threads=1, lora_r=4),
)


def test_zoo_build_reproduces_an_adapter_and_checks_its_hash(make_backend, tmp_path) -> None:
    from safetensors.torch import load_file

    first = build_adapter(TINY_MEMBER, make_backend(), tmp_path / "a")
    second = build_adapter(TINY_MEMBER, make_backend(), tmp_path / "b")
    a, b = (
        load_file(str(tmp_path / "a" / "adapter_model.safetensors")),
        load_file(str(tmp_path / "b" / "adapter_model.safetensors")),
    )
    assert a.keys() == b.keys()
    assert max(float((a[k].float() - b[k].float()).abs().max()) for k in a) <= 1e-3
    assert first["data"] == second["data"] and first["data"]["examples"] > 0
    assert first["params"]["config"]["steps"] == 3 and first["report"]["steps"] == 3
    assert read_record(tmp_path / "a")["adapter_sha256"] == first["adapter_sha256"]
    weights = tmp_path / "a" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-2] + b"\x00\x01")
    with pytest.raises(CrossriskError, match="does not match the build record"):
        read_record(tmp_path / "a")
    record = json.loads((tmp_path / "b" / RECORD_FILE).read_text())
    assert record["adapter_bytes"] < 1_000_000


def test_build_leaves_the_start_model_as_it_was(make_backend, tmp_path) -> None:
    backend = make_backend()
    fingerprint = backend.fingerprint
    build_adapter(TINY_MEMBER, backend, tmp_path / "a")
    assert backend.refresh_fingerprint() == fingerprint


def test_a_weights_defense_trains_on_a_new_base_then_reuses_its_adapter(make_backend, monkeypatch) -> None:
    from crossrisk_bench.defenses import zoo

    short = replace(
        zoo.get_member("debias_sft"), config=replace(zoo.get_member("debias_sft").config, steps=4, threads=1)
    )
    monkeypatch.setitem(zoo.MEMBERS_BY_NAME, "debias_sft", short)
    from crossrisk_bench.models.cache import response_cache

    base = make_backend(cache=True)
    defended = get_defense("debias_sft").apply(base)
    assert defended.cache_dir == base.cache_dir and response_cache(defended) is base.cache  # with_model carries them
    assert defended.lineage.endswith(":" + defended.build_record["adapter_sha256"][:16])
    check_applied(base, defended)
    assert defended.build_record["report"]["steps"] == 4 and defended.build_record["start"] == base.fingerprint
    again = get_defense("debias_sft").apply(base)
    assert again.fingerprint == defended.fingerprint
    assert again.build_record["adapter_sha256"] == defended.build_record["adapter_sha256"]


def test_dp_member_needs_the_zoo_base(make_backend) -> None:
    with pytest.raises(CrossriskError, match="only the zoo base 'smollm2-135m-exposed' has"):
        get_defense("dp_finetune").apply(make_backend())
