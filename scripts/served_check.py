"""Check a served model against the local engine, and measure its throughput.

    python scripts/served_check.py --base-url http://127.0.0.1:8000/v1 --model NAME --local smollm2-135m-instruct

Runs the generation tasks on the same items through the server and through the local engine
(greedy), prints how many answers are identical, then requests/s at several concurrencies on
prompts the cache has not seen. Prints figures only; a user's check, not a CI test.
"""

from __future__ import annotations

import argparse
import time
import uuid

from crossrisk_bench.data.items import take
from crossrisk_bench.models.base import DecodingConfig, Prompt
from crossrisk_bench.models.cache import default_cache_dir
from crossrisk_bench.models.loader import ModelSpec, load_backend
from crossrisk_bench.models.served import OpenAIBackend, ServerOptions
from crossrisk_bench.tasks import TASKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True, help="the served model name")
    parser.add_argument("--local", required=True, help="the same model for the local engine (name or directory)")
    parser.add_argument("--tasks", default="misuse,over_refusal,jailbreak,bias_query,privacy_awareness")
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--requests", type=int, default=32)
    args = parser.parse_args()
    local = load_backend(ModelSpec(args.local, device="cpu"), cache_dir=default_cache_dir(), use_cache=False)
    served = OpenAIBackend(args.model, ServerOptions(args.base_url, concurrency=4))
    same = total = 0
    for name in args.tasks.split(","):
        task = TASKS.get(name)
        items = take(task.load_items(), args.items, by=task.balance_by)
        a, b = task.evaluate(local, items), task.evaluate(served, items)
        equal = sum(x.response == y.response for x, y in zip(a.outcomes, b.outcomes))
        print(f"{name}: {equal}/{len(items)} answers identical; value local {a.value:.3f} served {b.value:.3f}")
        same, total = same + equal, total + len(items)
    print(f"all: {same}/{total} identical ({same / total:.1%})")
    for c in (int(x) for x in args.concurrency.split(",")):
        backend = OpenAIBackend(args.model, ServerOptions(args.base_url, concurrency=c))
        prompts = [
            Prompt.chat(f"Write one sentence about the number {i} ({uuid.uuid4().hex[:6]}).")
            for i in range(args.requests)
        ]
        start = time.perf_counter()
        backend.generate(prompts, DecodingConfig(max_new_tokens=32))
        seconds = time.perf_counter() - start
        print(
            f"concurrency {c}: {args.requests / seconds:.2f} requests/s, "
            f"{backend.stats.new_tokens / seconds:.1f} new tokens/s"
        )


if __name__ == "__main__":
    main()
