"""`crossrisk plan`: items each task needs for a minimum detectable effect, from a saved results.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from crossrisk_bench.errors import CrossriskError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path)
    parser.add_argument("--tolerance", type=float, default=5.0, help="points (default 5)")
    parser.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")


def run(args: argparse.Namespace) -> int:
    from crossrisk_bench.report.outputs import load_document
    from crossrisk_bench.verdict.power import plan_items, render_plan

    if args.tolerance <= 0 or not 0 < args.power < 1:
        raise CrossriskError(f"need --tolerance > 0 and 0 < --power < 1, got {args.tolerance} and {args.power}")
    plans = plan_items(load_document(args.results), tolerance=args.tolerance, power=args.power)
    if not plans:
        raise CrossriskError(f"{args.results} records no standard errors (a results.json older than the verdicts)")
    print("\n".join(render_plan(plans, tolerance=args.tolerance, power=args.power)))
    return 0
