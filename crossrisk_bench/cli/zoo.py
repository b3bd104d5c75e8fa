"""`crossrisk zoo list|build`: the defended zoo (LoRA adapters under fixtures/zoo/)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from crossrisk_bench.config.options import add_options, cache_dir_from_options, options
from crossrisk_bench.errors import CrossriskError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "build"])
    parser.add_argument("members", nargs="*", help="members to build (default: the exposure, then every member)")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: fixtures/zoo in the repository)"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="override every member's training steps (a short check build; needs --out)",
    )
    add_options(parser.add_argument, options("cache"), prefix="")


def run(args: argparse.Namespace) -> int:
    from crossrisk_bench.defenses import zoo

    if args.action == "list":
        for member in (zoo.EXPOSURE, *zoo.MEMBERS):
            folder = zoo.ZOO_DIR / member.name
            if (folder / zoo.RECORD_FILE).is_file():
                record = zoo.read_record(folder)
                built = f"shipped, {record['adapter_bytes'] / 1e6:.1f} MB, built in {record['build_seconds']:.0f} s"
            else:
                built = "not shipped: trained on first use"
            target = member.target.value if member.target else "base"
            print(f"{member.name:14s} {target:9s} {member.config.method:16s} {built:38s} {member.description}")
        return 0
    if args.steps is not None and args.steps < 1:
        raise CrossriskError("--steps must be >= 1")
    out = args.out or zoo.ZOO_DIR
    if args.steps is not None and (args.out is None or out.resolve() == zoo.ZOO_DIR.resolve()):
        raise CrossriskError(
            f"--steps builds a short check zoo, which must not replace the shipped one in {zoo.ZOO_DIR}; give --out DIR"
        )
    start = time.perf_counter()
    zoo.build_zoo(args.members, out, cache_dir_from_options(args), steps=args.steps)
    print(f"zoo built in {time.perf_counter() - start:.0f} s into {out}")
    return 0
