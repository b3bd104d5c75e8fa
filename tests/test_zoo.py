"""The shipped zoo: adapters match their build records, training data is not evaluation data,
and (slow, on SmolLM2) the zoo loads without retraining and `crossrisk zoo build` repeats."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crossrisk_bench.config.models_file import load_models, models_base
from crossrisk_bench.defenses import DEFENSES, get_defense
from crossrisk_bench.defenses.training_data import (
    BENIGN_REQUESTS,
    HARMFUL_REQUESTS,
    TRAIN_STEREOTYPES,
    debiasing_examples,
)
from crossrisk_bench.defenses.zoo import EXPOSURE, MEMBERS, RECORD_FILE, ZOO_DIR, read_record
from crossrisk_bench.paths import FIXTURES
from crossrisk_bench.risks import RISKS
from crossrisk_bench.tasks import evaluation_texts


def test_training_prompts_are_not_evaluation_prompts() -> None:
    seen = evaluation_texts()
    training = list(HARMFUL_REQUESTS) + list(BENIGN_REQUESTS)
    training += [m.content for e in debiasing_examples() for m in e.prompt.messages]
    overlap = [t for t in training if t.strip().lower() in seen]
    assert not overlap
    from crossrisk_bench.tasks.stereotypes import STEREOTYPES

    eval_claims = {(s.target.plural, s.plural) for s in STEREOTYPES}
    assert not [s for s in TRAIN_STEREOTYPES if (s.target[0], s.plural) in eval_claims]


SHIPPED = [m for m in (EXPOSURE, *MEMBERS) if (ZOO_DIR / m.name).is_dir()]


@pytest.mark.parametrize("member", SHIPPED, ids=lambda m: m.name)
def test_shipped_adapter_matches_its_record(member) -> None:
    record = read_record(ZOO_DIR / member.name)  # checks the SHA-256 of the adapter file
    assert record["member"] == member.name
    assert record["params"]["config"] == member.config.as_dict()  # shipped with the schedule in the code
    assert record["adapter_bytes"] < 6_000_000
    assert record["report"]["last_loss"] == record["report"]["last_loss"]  # not NaN


def test_default_models_file_lists_a_weights_and_a_prompt_defense_per_risk() -> None:
    specs = load_models(FIXTURES / "models.toml")
    kinds = {(s.target, s.kind) for s in specs}
    assert all((risk, kind) in kinds for risk in RISKS for kind in ("weights", "prompt"))
    assert models_base(FIXTURES / "models.toml") == "smollm2-135m-exposed"
    assert {s.name for s in specs if s.kind == "weights"} <= set(DEFENSES.names())
    assert {s.name for s in specs if s.kind == "weights"} <= {m.name for m in SHIPPED}  # the main job never trains


def test_dp_member_records_its_privacy_budget() -> None:
    record = read_record(ZOO_DIR / "dp_finetune")
    assert 0 < record["report"]["extra"]["epsilon"] < 100 and record["report"]["extra"]["delta"] == 1e-5


@pytest.mark.slow
def test_shipped_zoo_loads_without_retraining_and_each_member_differs_from_the_base(tmp_path: Path) -> None:
    from crossrisk_bench.defenses.check import check_applied
    from crossrisk_bench.models.cache import default_cache_dir
    from crossrisk_bench.models.loader import ModelSpec, load_backend

    base = load_backend(ModelSpec("smollm2-135m-exposed"), cache_dir=default_cache_dir(), use_cache=False)
    for member in SHIPPED[1:]:
        defended = get_defense(member.name).apply(base)
        assert defended.build_record == read_record(ZOO_DIR / member.name)
        check_applied(base, defended)
        del defended


@pytest.mark.slow
def test_zoo_build_repeats_within_tolerance(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    env = dict(os.environ, CROSSRISK_PROGRESS="0")
    for out in ("a", "b"):
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "crossrisk_bench.cli",
                "zoo",
                "build",
                "exposed",
                "--steps",
                "2",
                "--out",
                str(tmp_path / out),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert run.returncode == 0, run.stderr
        assert "exposed" in run.stdout and "zoo built in" in run.stdout
    a = load_file(str(tmp_path / "a" / "exposed" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "b" / "exposed" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    # Adam's first steps are sign-like: a gradient near zero whose float sum flips sign under
    # another thread schedule moves that one weight by about 2 x lr the other way (seen once in
    # CI: 0.0057 on a 2-step build). A rebuild must agree everywhere else.
    diffs = torch.cat([(a[k].float() - b[k].float()).abs().flatten() for k in a])
    assert float((diffs > 1e-3).float().mean()) < 1e-3 and float(diffs.mean()) < 1e-5
    ra, rb = read_record(tmp_path / "a" / "exposed"), read_record(tmp_path / "b" / "exposed")
    assert ra["data"]["hash"] == rb["data"]["hash"] and ra["params"]["config"]["steps"] == 2
    assert abs(ra["report"]["last_loss"] - rb["report"]["last_loss"]) < 1e-3
    assert RECORD_FILE in os.listdir(tmp_path / "a" / "exposed")


def test_exposure_mixes_the_corpus_with_replays_of_the_models_own_chat(make_backend) -> None:
    """The exposed base must stay a chat model: its exposure data is the corpus plus the starting
    model's own answers to the training requests (never evaluation prompts), replayed."""
    from crossrisk_bench.defenses.training_data import CHAT_RETAIN_REPEATS, exposure_examples, exposure_mix_examples

    backend = make_backend()
    mixed = exposure_mix_examples(backend)
    corpus = exposure_examples()
    assert mixed[: len(corpus)] == corpus
    chat = mixed[len(corpus) :]
    requests = {m.content for e in chat for m in e.prompt.messages}
    assert requests <= set(HARMFUL_REQUESTS) | set(BENIGN_REQUESTS) and requests
    assert len(chat) == CHAT_RETAIN_REPEATS * len(requests)
    assert all(e.target and e.prompt.is_chat for e in chat)
    assert EXPOSURE.data == "exposure_mix"


def test_a_shipped_adapter_applies_to_its_model_in_another_precision() -> None:
    from crossrisk_bench.models.adapters import same_weights

    exposed = "smollm2-135m-exposed:smollm2-135m-instruct:0123abcd:float32+exposed:89ab"
    assert same_weights(exposed, exposed.replace(":float32", ":bfloat16"))  # the fast path reuses the zoo
    assert not same_weights(exposed, exposed.replace("0123abcd", "0123abce"))  # other weights: retrain
    assert not same_weights(exposed + "+refusal_sft:1", exposed)
