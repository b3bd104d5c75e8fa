"""Naming a model: known names, local directories, hub ids, adapters, and the errors for each."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import LoglikelihoodRequest, Prompt
from crossrisk_bench.models.loader import ModelSpec, load_backend, resolve


def test_known_names_and_paths_resolve(tiny_dir: Path) -> None:
    assert resolve(ModelSpec("smollm2-135m-instruct")).kind == "embedded"
    assert resolve(ModelSpec("tiny-llama")).kind == "tiny"
    assert resolve(ModelSpec(str(tiny_dir))).kind == "local"
    assert resolve(ModelSpec("HuggingFaceTB/SmolLM2-135M-Instruct")).kind == "hub"


@pytest.mark.parametrize(
    "name, message",
    [
        ("smollm3", r"unknown model 'smollm3'; known models: smollm2-135m-exposed, smollm2-135m-instruct, tiny-llama"),
        ("./no/such/dir", "model path './no/such/dir' does not exist"),
        ("/no/such/dir", "does not exist"),
    ],
)
def test_bad_names_say_what_is_known(name: str, message: str) -> None:
    with pytest.raises(CrossriskError, match=message):
        resolve(ModelSpec(name))


def test_directory_without_config_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(CrossriskError, match="no config.json"):
        resolve(ModelSpec(str(tmp_path)))


def test_adapter_must_be_a_peft_directory(tmp_path: Path) -> None:
    with pytest.raises(CrossriskError, match="adapter_config.json"):
        resolve(ModelSpec("tiny-llama", adapter=str(tmp_path)))


def test_uncached_hub_id_fails_at_once_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    start = time.perf_counter()
    with pytest.raises(CrossriskError, match="not in the local Hugging Face cache"):
        load_backend(ModelSpec("some-org/not-a-model"), cache_dir=tmp_path)
    assert time.perf_counter() - start < 10  # no retry loop (the hub client's costs ~23 s)


def test_lora_adapter_is_applied_and_changes_the_model(tiny_dir: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    peft_model = get_peft_model(
        model, LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(tmp_path / "adapter")
    expected = peft_model.merge_and_unload()

    base = load_backend(ModelSpec(str(tiny_dir)), cache_dir=tmp_path, use_cache=False, threads=1)
    adapted = load_backend(
        ModelSpec(str(tiny_dir), adapter=str(tmp_path / "adapter")), cache_dir=tmp_path, use_cache=False, threads=1
    )
    assert adapted.fingerprint != base.fingerprint
    assert adapted.name.endswith("+adapter")
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.allclose(adapted.model(input_ids=ids).logits, expected(input_ids=ids).logits, atol=1e-5)
        assert not torch.allclose(adapted.model(input_ids=ids).logits, base.model(input_ids=ids).logits, atol=1e-3)
    request = [LoglikelihoodRequest(Prompt.chat("What colour is the apple?"), "The apple is red.")]
    assert adapted.loglikelihood(request)[0].total != pytest.approx(base.loglikelihood(request)[0].total, abs=1e-4)


def test_tiny_build_is_deterministic(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from crossrisk_bench.models.tiny import build_tiny

    a = load_file(build_tiny(tmp_path / "a", train_steps=5) / "model.safetensors")
    b = load_file(build_tiny(tmp_path / "b", train_steps=5) / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert 0.5e6 < sum(t.numel() for t in a.values()) < 2e6


def test_device_and_backend_options_are_checked_before_loading() -> None:
    from crossrisk_bench.models.loader import ModelSpec, build_spec, resolve_device, resolve_dtype

    with pytest.raises(CrossriskError, match="unknown device 'gpu'; use auto, cpu, cuda or cuda:N"):
        ModelSpec("tiny-llama", device="gpu")
    with pytest.raises(CrossriskError, match="unknown backend 'vllm'; known backends: hf, openai"):
        ModelSpec("tiny-llama", backend="vllm")
    with pytest.raises(CrossriskError, match="needs a base URL"):
        build_spec("m", backend="openai")
    with pytest.raises(CrossriskError, match="is not an http"):
        build_spec("m", backend="openai", base_url="localhost:8000")
    assert build_spec("m", backend="openai", base_url="http://h:8000").server.api_root == "http://h:8000/v1"
    assert resolve_dtype(None, "cpu") == "float32" and resolve_dtype(None, "cuda") == "bfloat16"
    import torch

    if not torch.cuda.is_available():
        assert resolve_device("auto") == "cpu"
        with pytest.raises(CrossriskError, match="torch sees no CUDA GPU"):
            resolve_device("cuda:0")


def test_the_embedded_model_is_keyed_by_its_loaded_weights(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record beside the copy used to give the fingerprint: a replaced file answered under it."""
    from crossrisk_bench.fingerprint import hash_tensors, stable_hash
    from crossrisk_bench.models import embedded
    from crossrisk_bench.models.embedded import EMBEDDED_NAME

    spec = ModelSpec(EMBEDDED_NAME, dtype="float32")
    monkeypatch.setattr(embedded, "ensure_embedded", lambda cache_dir: (tiny_dir, {"weights_fingerprint": "0" * 32}))
    with pytest.raises(CrossriskError, match="holds weights .* not the 0000000000000000 its crossrisk-meta.json"):
        load_backend(spec, cache_dir=tmp_path, use_cache=False, threads=1)
    real = load_backend(ModelSpec(str(tiny_dir), dtype="float32"), cache_dir=tmp_path, use_cache=False, threads=1)
    weights = hash_tensors(real.model.state_dict())
    monkeypatch.setattr(embedded, "ensure_embedded", lambda cache_dir: (tiny_dir, {"weights_fingerprint": weights}))
    backend = load_backend(spec, cache_dir=tmp_path, use_cache=False, threads=1)
    assert backend.fingerprint == real.fingerprint == stable_hash({"weights": weights, "dtype": "torch.float32"})
