"""The continuous-batching decode loop and the oneDNN kernels, on the tiny model: a row's answer
is `model.generate`'s for that prompt alone, whatever shares its batch, whether its slot was
refilled, and whether its prompt's shared prefix was computed once."""

from __future__ import annotations

import pytest
import torch

from crossrisk_bench.models.base import DecodingConfig, Prompt
from crossrisk_bench.models.decode import MIN_PREFIX, shared_prefix
from crossrisk_bench.models.kernels import onednn_available, onednn_linear

QUESTIONS = [
    "Hi",
    "What colour is the apple?",
    "Who owns the car in the long street near the river?",
    "Can you help me, please?",
    "Tell me about Bob, and also about the long river near the old stone house by the hill.",
    "Name a colour.",
    "What is the door made of?",
    "Where does Grace live, and who lives next door to her?",
    "Yes",
    "Say something about apples and doors and rivers and houses.",
]


def alone(backend, prompt: Prompt, max_new_tokens: int) -> str:
    enc = backend.tokenizer(backend.render(prompt), return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = backend.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    return backend.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)


@pytest.mark.parametrize("fast_linear", [False, True])
def test_refilled_slots_and_shared_prefix_give_each_prompts_own_answer(make_backend, fast_linear) -> None:
    backend = make_backend(batch_size=3)
    backend.fast_linear = fast_linear
    prompts = [Prompt.chat(q, system_prompt="You are a helpful assistant. Be brief.") for q in QUESTIONS]
    prefix = shared_prefix([backend._encode(backend.render(p)) for p in prompts])
    assert len(prefix) > 10, "the check needs a shared prefix (the system turn)"
    config = DecodingConfig(max_new_tokens=6)
    ours = backend.generate(prompts, config)
    reasons = {g.samples[0].finish_reason for g in ours}
    assert reasons == {"eos", "length"}, "the check needs rows that finish early and rows that run to the limit"
    with onednn_linear(backend.model, fast_linear):
        expected = [alone(backend, p, 6) for p in prompts]
    assert [g.text for g in ours] == expected


def test_prompts_without_a_shared_prefix_decode_the_same(make_backend) -> None:
    backend = make_backend(batch_size=2)
    backend.fast_linear = False
    prompts = [Prompt.raw(q) for q in QUESTIONS[:3]] + [
        Prompt.chat(q, system_prompt="Be brief.") for q in QUESTIONS[3:6]
    ]
    ours = backend.generate(prompts, DecodingConfig(max_new_tokens=10))
    assert [g.text for g in ours] == [alone(backend, p, 10) for p in prompts]


def test_shared_prefix_leaves_a_token_to_prefill_and_skips_short_ones() -> None:
    assert shared_prefix([(1, 2, 3, 4, 5, 6), (1, 2, 3, 4, 5, 7)]) == (1, 2, 3, 4, 5)
    assert shared_prefix([(1, 2, 3, 4, 5), (1, 2, 3, 4, 5, 6)]) == (1, 2, 3, 4)  # the shorter keeps one token
    assert shared_prefix([(1, 2, 3, 9, 9), (1, 2, 3, 8, 8)]) == ()  # under MIN_PREFIX tokens
    assert shared_prefix([tuple(range(10))]) == tuple(range(9))
    assert shared_prefix([]) == ()
    assert MIN_PREFIX > 1


def test_onednn_linear_is_scoped_to_the_block(make_backend) -> None:
    backend = make_backend()
    if not onednn_available(backend.model):
        pytest.skip("torch without oneDNN")
    layer = next(m for m in backend.model.modules() if type(m) is torch.nn.Linear)
    x = torch.randn(5, layer.in_features)
    with torch.inference_mode(), onednn_linear(backend.model):
        assert "forward" in vars(layer)
        inside = layer(x)
    assert "forward" not in vars(layer)  # training after the block runs the stock layer, with autograd
    torch.testing.assert_close(inside, torch.nn.functional.linear(x, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)
    layer(x.requires_grad_()).sum().backward()
    assert backend.describe()["linear"] == "onednn"
