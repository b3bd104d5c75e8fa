"""`crossrisk cache info|clear`: show or clear the response cache."""

from __future__ import annotations

import argparse

from crossrisk_bench.config.options import add_options, cache_dir_from_options, options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["info", "clear"])
    add_options(parser.add_argument, options("cache"), prefix="")


def run(args: argparse.Namespace) -> int:
    from crossrisk_bench.models.cache import ResponseCache

    with ResponseCache(cache_dir_from_options(args) / "responses.sqlite") as cache:
        if args.action == "clear":
            cache.clear()
        print(f"{cache.path}: {len(cache)} cached responses")
    return 0
