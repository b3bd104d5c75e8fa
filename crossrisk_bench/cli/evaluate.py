"""`crossrisk eval`: run tasks on one model and print their metrics (no defenses, no verdicts)."""

from __future__ import annotations

import argparse
import time

from crossrisk_bench.cli.common import add_model_arguments, load_model
from crossrisk_bench.config.options import add_options, cache_dir_from_options, options
from crossrisk_bench.errors import Unsupported


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("tasks", nargs="*", help="task names (default: all)")
    add_options(parser.add_argument, options("profile", "no-cache", "limit", "judge", "judge-model"), prefix="")


def run(args: argparse.Namespace) -> int:
    from crossrisk_bench.config.profiles import items_limit
    from crossrisk_bench.judges.select import build_judges, parse_judge_options
    from crossrisk_bench.models.loader import ModelSpec, load_backend
    from crossrisk_bench.tasks import TASKS

    backend = load_model(args)
    tasks = [TASKS.get(name) for name in args.tasks] or list(TASKS)
    limit = items_limit(args.crossrisk_profile, args.crossrisk_limit)
    choice = parse_judge_options(args.crossrisk_judge, args.crossrisk_judge_model)
    judge_backend = (
        load_backend(ModelSpec(choice.model), cache_dir=cache_dir_from_options(args)) if choice.model else None
    )
    judges = build_judges(choice, judge_backend)
    for task in tasks:
        start = time.perf_counter()
        try:
            result = task.evaluate(backend, limit=limit, judges=judges)
        except Unsupported as exc:
            print(f"{task.name:22s} skipped: {exc}")
            continue
        extra = " ".join(f"{k}={v:.3f}" for k, v in result.summary.items())
        print(
            f"{task.name:22s} {result.value:6.3f}  ({task.metric}; n={result.n}; judge {result.judge}; "
            f"{time.perf_counter() - start:.1f} s) {extra}"
        )
    return 0
