"""The HF engine on the tiny model: same answers as `model.generate`, batching that does not
change results, seeded sampling, log-likelihoods, truncation, the cache and bad input."""

from __future__ import annotations

import copy
import random

import pytest
import torch

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import (
    DecodingConfig,
    LoglikelihoodRequest,
    Message,
    Prompt,
)
from crossrisk_bench.models.hf import TruncationWarning

QUESTIONS = [
    "What colour is the apple?",
    "Who owns the car?",
    "Tell me about Bob, and also about the long river near the old stone house.",
    "Can you help me, please?",
    "Hi",
    "What colour is the door in the house that Grace owns?",
]
GREEDY = DecodingConfig(max_new_tokens=12)


def prompts() -> list[Prompt]:
    return [Prompt.chat(q) for q in QUESTIONS]


def test_greedy_matches_plain_generate(make_backend) -> None:
    backend = make_backend(batch_size=6)
    ours = backend.generate(prompts(), GREEDY)
    for prompt, generation in zip(prompts(), ours):
        enc = backend.tokenizer(backend.render(prompt), return_tensors="pt", add_special_tokens=False)
        ref = backend.model.generate(**enc, max_new_tokens=12, do_sample=False)
        expected = backend.tokenizer.decode(ref[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        assert generation.text == expected


def test_batching_and_order_do_not_change_answers(make_backend) -> None:
    serial = make_backend(batch_size=1).generate(prompts(), GREEDY)
    order = list(range(len(QUESTIONS)))
    random.Random(3).shuffle(order)
    shuffled = make_backend(batch_size=4).generate([prompts()[i] for i in order], GREEDY)
    assert [shuffled[order.index(i)].text for i in range(len(QUESTIONS))] == [g.text for g in serial]


def test_stops_at_eos_or_length(make_backend) -> None:
    backend = make_backend()
    done = backend.generate([Prompt.chat("Can you help me, please?")], DecodingConfig(max_new_tokens=30))[0].samples[0]
    assert done.finish_reason == "eos" and done.num_tokens < 30 and "<|im_end|>" not in done.text
    cut = backend.generate([Prompt.chat("Can you help me, please?")], DecodingConfig(max_new_tokens=2))[0].samples[0]
    assert cut.finish_reason == "length" and cut.num_tokens == 2


def test_duplicates_are_computed_once(make_backend) -> None:
    backend = make_backend()
    many = prompts() + prompts()[:3]
    out = backend.generate(many, GREEDY)
    assert backend.stats.computed == len(QUESTIONS)
    assert backend.stats.deduplicated == 3
    assert [g.text for g in out[-3:]] == [g.text for g in out[:3]]


def test_seeded_samples_are_reproducible_and_batch_independent(make_backend) -> None:
    config = DecodingConfig(max_new_tokens=8, temperature=1.2, n=4, seed=7)
    first = make_backend(batch_size=8).generate(prompts(), config)
    alone = make_backend(batch_size=1).generate([prompts()[2]], config)
    assert alone[0].texts == first[2].texts
    assert len(first[0].samples) == 4 and len(set(first[0].texts)) > 1
    other_seed = make_backend().generate(prompts(), DecodingConfig(max_new_tokens=8, temperature=1.2, n=4, seed=8))
    assert [g.texts for g in other_seed] != [g.texts for g in first]


def test_top_p_keeps_the_most_likely_token(make_backend) -> None:
    greedy = make_backend().generate(prompts(), DecodingConfig(max_new_tokens=6))
    nucleus = make_backend().generate(prompts(), DecodingConfig(max_new_tokens=6, temperature=1.0, top_p=1e-6))
    assert [g.text for g in nucleus] == [g.text for g in greedy]


def test_loglikelihood_matches_a_full_forward(make_backend) -> None:
    backend = make_backend(batch_size=3)
    requests = [
        LoglikelihoodRequest(Prompt.chat("What colour is the apple?"), "The apple is red."),
        LoglikelihoodRequest(Prompt.chat("Hi"), "Sure"),
        LoglikelihoodRequest(Prompt.raw("Alice likes the"), " blue book."),
    ]
    results = backend.loglikelihood(requests)
    for request, result in zip(requests, results):
        ctx = backend.tokenizer(backend.render(request.context), add_special_tokens=False)["input_ids"]
        cont = backend.tokenizer(request.continuation, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([ctx + cont])
        with torch.no_grad():
            logprobs = torch.log_softmax(backend.model(input_ids=ids).logits[0].float(), -1)
        expected = [logprobs[len(ctx) - 1 + i, t].item() for i, t in enumerate(cont)]
        assert result.token_logprobs == pytest.approx(expected, abs=1e-4)
        assert result.total == pytest.approx(sum(expected), abs=1e-3)


def test_loglikelihood_flags_the_greedy_continuation(make_backend) -> None:
    backend = make_backend()
    prompt = Prompt.chat("Can you help me, please?")
    answer = backend.generate([prompt], GREEDY)[0].text
    assert backend.loglikelihood([LoglikelihoodRequest(prompt, answer)])[0].is_greedy


def test_long_prompt_is_cut_from_the_left_with_a_warning(make_backend) -> None:
    backend = make_backend()
    long_prompt = Prompt.chat(" ".join(["Tell me about the old stone house."] * 80))
    with pytest.warns(TruncationWarning, match="truncated from the left"):
        out = backend.generate([long_prompt, Prompt.chat("Hi")], GREEDY)
    assert out[0].samples[0].prompt_truncated and not out[1].samples[0].prompt_truncated
    assert backend.stats.truncated_prompts == 1


def test_model_without_chat_template_says_so(make_backend) -> None:
    backend = make_backend()
    backend.tokenizer.chat_template = None
    with pytest.raises(CrossriskError, match="has no chat template"):
        backend.generate([Prompt.chat("Hi")], GREEDY)
    # raw text needs no template: it is answered (the tiny model, whose weights depend on the CPU it
    # was trained on, may stop at once, so the answer's length is not the point)
    (sample,) = backend.generate([Prompt.raw("Alice likes")], GREEDY)[0].samples
    assert sample.finish_reason in ("eos", "length") and not sample.prompt_truncated


def test_empty_request_lists_are_errors(make_backend) -> None:
    backend = make_backend()
    with pytest.raises(CrossriskError, match="empty"):
        backend.generate([], GREEDY)
    with pytest.raises(CrossriskError, match="empty"):
        backend.loglikelihood([])


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Prompt(), "either chat messages or raw text"),
        (lambda: Prompt(text="x", system_prompt="s"), "needs chat messages"),
        (lambda: Prompt(messages=(Message("system", "a"), Message("user", "b")), system_prompt="c"), "give one"),
        (lambda: Message("robot", "x"), "unknown chat role"),
        (lambda: DecodingConfig(n=2), "temperature > 0"),
        (lambda: DecodingConfig(max_new_tokens=0), "max_new_tokens"),
        (lambda: LoglikelihoodRequest(Prompt.raw("a"), ""), "non-empty continuation"),
    ],
)
def test_malformed_requests_are_rejected(build, message) -> None:
    with pytest.raises(CrossriskError, match=message):
        build()


def test_cache_answers_repeats_and_keys_on_what_matters(make_backend) -> None:
    backend = make_backend(cache=True)
    cold = backend.generate(prompts(), GREEDY)
    assert backend.stats.computed == len(QUESTIONS)
    fresh = make_backend(cache=True)  # a new process would see the same file
    warm = fresh.generate(prompts(), GREEDY)
    assert fresh.stats.computed == 0 and fresh.stats.cache_hits == len(QUESTIONS)
    assert warm == cold
    fresh.generate([p.with_system_prompt("Be careful.") for p in prompts()[:2]], GREEDY)
    fresh.generate(prompts()[:2], DecodingConfig(max_new_tokens=5))
    fresh.generate(prompts()[:2], DecodingConfig(max_new_tokens=12, temperature=1.0, seed=1))
    assert fresh.stats.computed == 6


def test_different_weights_never_share_cache_entries(make_backend) -> None:
    base = make_backend(cache=True)
    base_out = base.generate(prompts(), GREEDY)
    edited = make_backend(cache=True)
    with torch.no_grad():
        edited.model.lm_head.weight[edited.tokenizer.eos_token_id] += 50.0  # always stop at once
    assert edited.fingerprint == base.fingerprint
    assert edited.refresh_fingerprint() != base.fingerprint
    out = edited.generate(prompts(), GREEDY)
    assert edited.stats.cache_hits == 0
    assert all(g.text == "" for g in out) and any(g.text for g in base_out)


def test_a_decoding_code_change_never_reuses_old_answers(make_backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """The weights and prompts alone keyed answers: a decode-loop fix would have read stale ones."""
    from crossrisk_bench.models import decode

    backend = make_backend(cache=True)
    backend.generate(prompts()[:2], GREEDY)
    backend.loglikelihood([LoglikelihoodRequest(Prompt(text="The sky is"), " blue")])
    monkeypatch.setattr(decode, "DECODE_VERSION", decode.DECODE_VERSION + 1)
    changed = make_backend(cache=True)
    changed.generate(prompts()[:2], GREEDY)
    changed.loglikelihood([LoglikelihoodRequest(Prompt(text="The sky is"), " blue")])
    assert (changed.stats.computed, changed.stats.cache_hits) == (3, 0)


def test_cached_backend_computes_only_what_the_cache_lacks(make_backend) -> None:
    """Samples are cache units of their own: asking for 3 where 2 are kept computes 1."""
    backend = make_backend(cache=True)
    two = backend.generate(prompts()[:1], DecodingConfig(max_new_tokens=6, temperature=1.0, n=2, seed=3))
    three = backend.generate(prompts()[:1], DecodingConfig(max_new_tokens=6, temperature=1.0, n=3, seed=3))
    assert three[0].samples[:2] == two[0].samples
    assert (backend.stats.computed, backend.stats.cache_hits) == (3, 2)
    uncached = make_backend()  # the engine alone gives the same answers
    assert uncached.generate(prompts()[:1], DecodingConfig(max_new_tokens=6, temperature=1.0, n=3, seed=3)) == three


def test_cached_backend_reads_through_to_its_engine(make_backend) -> None:
    from crossrisk_bench.models.cache import CachedBackend, response_cache

    backend = make_backend(cache=True)
    engine = backend.engine
    assert (backend.model, backend.tokenizer, backend.fingerprint) == (
        engine.model,
        engine.tokenizer,
        engine.fingerprint,
    )
    backend.name = "renamed"  # what a checkpoint defense does
    assert engine.name == "renamed"
    assert backend.describe()["cache"] == str(backend.cache.path) and engine.describe()["cache"] is None
    other = backend.with_model(copy.deepcopy(engine.model), name="copy")
    assert isinstance(other, CachedBackend) and response_cache(other) is backend.cache
    assert response_cache(engine) is None
    with pytest.raises(CrossriskError, match="already cached"):
        CachedBackend(backend, backend.cache)


def test_a_backend_computes_on_its_threads_and_leaves_the_process_count_alone(make_backend) -> None:
    """Building a backend, answering with it and training on it leave torch's process-wide thread
    count and global generator as they were; its own work runs on its `threads`."""
    from crossrisk_bench.models.torch_state import torch_threads

    before = torch.get_num_threads()
    other = 2 if before != 2 else 3
    with torch_threads(other):
        backend = make_backend()  # threads=1
        assert torch.get_num_threads() == other
        seen: list[int] = []
        real = backend.model.forward

        def forward(*args, **kwargs):
            seen.append(torch.get_num_threads())
            return real(*args, **kwargs)

        backend.model.forward = forward
        backend.generate(prompts()[:2], DecodingConfig(max_new_tokens=3))
        backend.loglikelihood([LoglikelihoodRequest(Prompt.chat("hi"), " there")])
        assert seen and set(seen) == {1} and torch.get_num_threads() == other
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        from crossrisk_bench.training.config import Example, TrainConfig
        from crossrisk_bench.training.loop import train

        train(
            backend,
            [Example(Prompt.chat("hi"), "hello")],
            TrainConfig(method="sft", steps=1, batch_size=1, threads=1, seed=5),
        )
        assert torch.get_num_threads() == other
        assert torch.equal(torch.rand(3), expected)  # the training's seed did not leak
    assert torch.get_num_threads() == before
