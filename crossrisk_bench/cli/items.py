"""`crossrisk items build`: rebuild the embedded item files under fixtures/items/ (deterministic)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["build"])


def run(args: argparse.Namespace) -> int:
    from crossrisk_bench.data.items import write_jsonl
    from crossrisk_bench.paths import ITEMS
    from crossrisk_bench.tasks import ITEM_BUILDERS

    ITEMS.mkdir(parents=True, exist_ok=True)
    for name, build in ITEM_BUILDERS.items():
        records = build()
        write_jsonl(ITEMS / f"{name}.jsonl", records)
        print(f"{ITEMS / (name + '.jsonl')}: {len(records)} items")
    return 0
