"""Engine speed on the embedded model (pytest-benchmark), each figure measured side by side.

- generation: the engine (continuous batching, shared prefix computed once, oneDNN kernels)
  against a plain `model.generate` loop over the same 64 mixed chat prompts (batch 16, sorted by
  length, stock kernels), with the share of identical greedy answers, GFLOP/s and the share of
  the machine's matmul peak measured in the same run; the engine with stock kernels shows what
  the scheduling alone gives;
- batch size: the engine at 16, 32 and 64 rows (why the default is 32);
- bfloat16: the fast path against the float32 engine, speed and identical greedy answers;
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
# 64 distinct prompts: short, medium and long questions in four variants each
PROMPTS = [Prompt.chat(f"{t} (variant {v})") for v in range(4) for t in _SHORT + _LONG + _MEDIUM][:64]
CONFIG = DecodingConfig(max_new_tokens=48)
PLAIN_BATCH = 16


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
    """What a user would write: prompts sorted by length, batches of 16 padded on the left,
    `model.generate`, stock kernels; answers returned in the prompts' order."""
    import torch

    tok = backend.tokenizer
    tok.padding_side = "left"
    rendered = [backend.render(p) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -len(tok(rendered[i], add_special_tokens=False)["input_ids"]))
    texts = [""] * len(prompts)
    for start in range(0, len(order), PLAIN_BATCH):
        batch = order[start : start + PLAIN_BATCH]
        enc = tok([rendered[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = backend.model.generate(
                **enc, max_new_tokens=config.max_new_tokens, do_sample=False, pad_token_id=backend.pad_id
            )
        for i, text in zip(batch, tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)):
            texts[i] = text
    return texts


def generating_with(engine, **settings):
    """The workload answered with some engine attributes changed for the duration of the run."""

    def run() -> None:
        saved = {name: getattr(engine, name) for name in settings}
        for name, value in settings.items():
            setattr(engine, name, value)
        try:
            engine.generate(PROMPTS, CONFIG)
        finally:
            for name, value in saved.items():
                setattr(engine, name, value)

    return run


def matmul_peak_gflops(threads: int) -> float:
    """The best of the stock and the oneDNN kernel on a large float32 product: what the machine's
    cores reach when the matrices are big enough to keep them busy."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    kernels = {"stock": lambda: torch.nn.functional.linear(a, b)}
    if hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        kernels["onednn"] = lambda: torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")
    seconds = interleaved({name: lambda f=f: [f() for _ in range(10)] for name, f in kernels.items()}, rounds=3)
    return 2 * 1024**3 * 10 / min(seconds.values()) / 1e9


def useful_gflop(backend, prompts: list[Prompt], new_tokens: int) -> float:
    """Forward FLOPs the answers need (2 x weights per token; the output layer only for generated
    tokens), counting neither padding nor attention: a lower bound on the work done."""
    model = backend.model
    embedding = model.get_input_embeddings().weight.numel()
    body = sum(p.numel() for p in model.parameters()) - embedding * (1 if model.config.tie_word_embeddings else 2)
    prompt_tokens = sum(len(backend._encode(backend.render(p))) for p in prompts)
    return (2 * body * (prompt_tokens + new_tokens) + 2 * embedding * new_tokens) / 1e9


def test_generation_engine_vs_plain_generate_loop(benchmark, engine) -> None:
    plain_texts = plain_generate_loop(engine, PROMPTS, CONFIG)
    engine_answers = engine.generate(PROMPTS, CONFIG)  # also warms both paths up
    new_tokens = sum(s.num_tokens for g in engine_answers for s in g.samples)
    agree = sum(a.text.strip() == b.strip() for a, b in zip(engine_answers, plain_texts)) / len(PROMPTS)

    seconds = interleaved(
        {
            "plain": lambda: plain_generate_loop(engine, PROMPTS, CONFIG),
            "engine": lambda: engine.generate(PROMPTS, CONFIG),
            "engine_stock_kernels": generating_with(engine, fast_linear=False),
        },
        rounds=2,
    )
    benchmark.pedantic(engine.generate, args=(PROMPTS, CONFIG), rounds=1, iterations=1)
    ratio = seconds["plain"] / seconds["engine"]
    gflop = useful_gflop(engine, PROMPTS, new_tokens)
    peak = matmul_peak_gflops(engine.threads)
    figures = {
        "prompts": len(PROMPTS),
        "batch_size": engine.batch_size,
        "threads": engine.threads,
        "new_tokens": new_tokens,
        "engine_tokens_per_s": new_tokens / seconds["engine"],
        "plain_tokens_per_s": new_tokens / seconds["plain"],
        "speedup": ratio,
        "speedup_stock_kernels": seconds["plain"] / seconds["engine_stock_kernels"],
        "same_answer_rate": agree,
        "engine_gflops": gflop / seconds["engine"],
        "plain_gflops": gflop / seconds["plain"],
        "matmul_peak_gflops": peak,
    }
    benchmark.extra_info.update(figures)
    print(
        f"\ngeneration: engine {figures['engine_tokens_per_s']:.1f} new tok/s, plain generate loop "
        f"{figures['plain_tokens_per_s']:.1f} new tok/s: ratio {ratio:.2f}x (engine with stock kernels "
        f"{figures['speedup_stock_kernels']:.2f}x); same greedy answer {agree:.0%}; {len(PROMPTS)} prompts, "
        f"{CONFIG.max_new_tokens} new tokens, engine batch {engine.batch_size}, plain batch {PLAIN_BATCH}, "
        f"{engine.threads} threads\n"
        f"work: {gflop:.0f} GFLOP: engine {figures['engine_gflops']:.0f} GFLOP/s "
        f"({figures['engine_gflops'] / peak:.0%} of the {peak:.0f} GFLOP/s matmul peak), "
        f"plain {figures['plain_gflops']:.0f} GFLOP/s ({figures['plain_gflops'] / peak:.0%})"
    )
    assert agree == 1.0, "the engine and model.generate should give the same greedy answers"


def test_engine_batch_size(engine) -> None:
    """Wider batches use the matrix units better until attention over more rows and the slots
    left idle between refills outweigh it."""
    sizes = (16, 32, 64)
    default = engine.batch_size
    seconds = interleaved({str(size): generating_with(engine, batch_size=size) for size in sizes}, rounds=2)
    best = min(seconds, key=seconds.__getitem__)
    print("\nengine batch size: " + ", ".join(f"{size} rows {seconds[str(size)]:.1f} s" for size in sizes))
    print(f"fastest: {best} rows (default {default})")


def test_bfloat16_fast_path(engine, crossrisk_settings) -> None:
    """`--crossrisk-dtype bfloat16`: how much faster, and how many greedy answers stay the same."""
    from dataclasses import replace

    from crossrisk_bench.models.loader import load_backend

    if str(engine.model.dtype) != "torch.float32":
        pytest.skip("compares against a float32 engine")
    fast = load_backend(
        replace(crossrisk_settings.model, dtype="bfloat16"),
        cache_dir=crossrisk_settings.cache_dir,
        use_cache=False,
        batch_size=engine.batch_size,
        threads=engine.threads,
    )
    reference = engine.generate(PROMPTS, CONFIG)
    answers = fast.generate(PROMPTS, CONFIG)
    same = sum(a.text == b.text for a, b in zip(reference, answers)) / len(PROMPTS)
    seconds = interleaved(
        {"float32": lambda: engine.generate(PROMPTS, CONFIG), "bfloat16": lambda: fast.generate(PROMPTS, CONFIG)},
        rounds=2,
    )
    ratio = seconds["float32"] / seconds["bfloat16"]
    print(
        f"\nbfloat16: {ratio:.2f}x the float32 engine ({seconds['bfloat16']:.1f} s vs {seconds['float32']:.1f} s), "
        f"same greedy answer as float32 {same:.0%} ({len(PROMPTS)} prompts, {CONFIG.max_new_tokens} new tokens)"
    )


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
