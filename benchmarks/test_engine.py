"""Engine speed on the embedded model (pytest-benchmark), each figure measured side by side.

- generation: the engine (length-sorted batches, de-duplication, own decode loop) against a
  plain `model.generate` loop over the same prompts at the same batch size;
- cache: re-running the same requests against the cold run (target: under 2%);
- load: converting the embedded GGUF the first time against loading the safetensors copy.

Run alone with `pytest benchmarks/test_engine.py -s --crossrisk-perf`; figures land in pytest-benchmark's JSON
(`--benchmark-json`) as `extra_info`. pytest-benchmark disables itself under xdist; the ratios
are measured here with `interleaved` either way.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crossrisk_bench.models.base import DecodingConfig, Prompt

from ._perf import interleaved

pytestmark = [pytest.mark.perf, pytest.mark.slow]

_SHORT = [
    "What is the capital of France?",
    "Name a primary colour.",
    "What is 7 times 8?",
    "Say hello in Spanish.",
    "What do bees make?",
    "Is the sun a star?",
]
_LONG = [
    "Here is a short story. A farmer lived near a river with three goats and a dog. Every morning the dog "
    "led the goats to the meadow, and every evening it brought them back before dark. One day a storm "
    f"came and the river rose. Question {i}: what do you think the dog did, and why?"
    for i in range(4)
] + [
    "Summarise the following notes in one sentence. Notes: the meeting moved to Thursday; the budget "
    "review needs two more slides; Maria will send the draft; the client asked for a shorter timeline "
    f"and a cheaper option; legal must approve the contract before signing. Version {i}."
    for i in range(4)
]
_MEDIUM = [f"Write one sentence about the number {n} and why someone might like it." for n in range(6)]
PROMPTS = [Prompt.chat(t) for t in _SHORT + _LONG + _MEDIUM] + [Prompt.chat(t) for t in _SHORT[:4]]  # 4 repeats
CONFIG = DecodingConfig(max_new_tokens=32)


@pytest.fixture(scope="module")
def engine(crossrisk_settings):
    from crossrisk_bench.models.loader import load_backend

    return load_backend(
        crossrisk_settings.model,
        cache_dir=crossrisk_settings.cache_dir,
        use_cache=False,
        batch_size=crossrisk_settings.batch_size,
        threads=crossrisk_settings.threads,
    )


def plain_generate_loop(backend, prompts: list[Prompt], config: DecodingConfig) -> list[str]:
    """What a user would write: batches in the given order, left padding, `model.generate`."""
    import torch

    tok = backend.tokenizer
    tok.padding_side = "left"
    texts = []
    for start in range(0, len(prompts), backend.batch_size):
        batch = [backend.render(p) for p in prompts[start : start + backend.batch_size]]
        enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = backend.model.generate(
                **enc, max_new_tokens=config.max_new_tokens, do_sample=False, pad_token_id=backend.pad_id
            )
        texts += tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return texts


def test_generation_engine_vs_plain_generate_loop(benchmark, engine) -> None:
    plain_texts = plain_generate_loop(engine, PROMPTS, CONFIG)
    engine_answers = engine.generate(PROMPTS, CONFIG)  # also warms both paths up
    new_tokens = sum(s.num_tokens for g in engine_answers for s in g.samples)
    agree = sum(a.text.strip() == b.strip() for a, b in zip(engine_answers, plain_texts)) / len(PROMPTS)
    seconds = interleaved(
        {
            "plain": lambda: plain_generate_loop(engine, PROMPTS, CONFIG),
            "engine": lambda: engine.generate(PROMPTS, CONFIG),
        },
        rounds=2,
    )
    benchmark.pedantic(engine.generate, args=(PROMPTS, CONFIG), rounds=1, iterations=1)
    ratio = seconds["plain"] / seconds["engine"]
    benchmark.extra_info.update(
        prompts=len(PROMPTS),
        batch_size=engine.batch_size,
        threads=engine.threads,
        new_tokens=new_tokens,
        engine_tokens_per_s=new_tokens / seconds["engine"],
        plain_tokens_per_s=new_tokens / seconds["plain"],
        speedup=ratio,
        same_answer_rate=agree,
    )
    print(
        f"\ngeneration: engine {new_tokens / seconds['engine']:.1f} new tok/s, plain generate loop "
        f"{new_tokens / seconds['plain']:.1f} new tok/s, ratio {ratio:.2f}x ({len(PROMPTS)} prompts, "
        f"batch {engine.batch_size}, {engine.threads} threads, same greedy answer {agree:.0%})"
    )
    assert agree >= 0.75, "the engine and model.generate should give the same greedy answers"


def test_cache_rerun_vs_cold(benchmark, engine, tmp_path: Path) -> None:
    from crossrisk_bench.models.cache import CachedBackend, ResponseCache

    cached = CachedBackend(engine, ResponseCache(tmp_path / "responses.sqlite"))
    try:
        start = time.perf_counter()
        cold = cached.generate(PROMPTS, CONFIG)
        cold_seconds = time.perf_counter() - start
        warm = benchmark.pedantic(cached.generate, args=(PROMPTS, CONFIG), rounds=5, iterations=1)
        warm_seconds = interleaved({"warm": lambda: cached.generate(PROMPTS, CONFIG)}, rounds=5)["warm"]
    finally:
        cached.cache.close()
    assert warm == cold
    share = warm_seconds / cold_seconds
    benchmark.extra_info.update(cold_seconds=cold_seconds, warm_seconds=warm_seconds, warm_share=share)
    print(f"\ncache: cold {cold_seconds:.2f} s, re-run {warm_seconds * 1000:.1f} ms = {share:.2%} of cold")


def test_embedded_model_load_first_time_and_cached(benchmark, crossrisk_settings, tmp_path: Path) -> None:
    from crossrisk_bench.models.embedded import EMBEDDED_NAME
    from crossrisk_bench.models.loader import ModelSpec, load_backend

    if crossrisk_settings.model.model != EMBEDDED_NAME:
        pytest.skip("measures the embedded default only")
    spec = ModelSpec(EMBEDDED_NAME)
    start = time.perf_counter()
    load_backend(spec, cache_dir=tmp_path, use_cache=False)
    first = time.perf_counter() - start
    benchmark.pedantic(
        load_backend, args=(spec,), kwargs={"cache_dir": tmp_path, "use_cache": False}, rounds=3, iterations=1
    )
    cached = interleaved({"cached": lambda: load_backend(spec, cache_dir=tmp_path, use_cache=False)}, rounds=3)[
        "cached"
    ]
    benchmark.extra_info.update(first_load_seconds=first, cached_load_seconds=cached)
    print(f"\nembedded load: first time {first:.1f} s (GGUF dequantised and saved), cached {cached:.2f} s")
