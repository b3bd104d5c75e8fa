"""`crossrisk attack`: fine-tuning attacks on a saved run's weight defenses and its base, added to its reports."""

from __future__ import annotations

import argparse
from pathlib import Path

from crossrisk_bench.config.options import add_options, cache_dir_from_options, options
from crossrisk_bench.errors import CrossriskError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="results.json of a run (pytest --crossrisk-report DIR)")
    parser.add_argument("--attacks", type=Path, default=None, help="attacks file (default: fixtures/attacks.toml)")
    parser.add_argument(
        "--defenses", default=None, help="comma-separated defended models (default: every weights/checkpoint one)"
    )
    parser.add_argument("--tasks", default=None, help="comma-separated tasks (default: every task)")
    parser.add_argument("--limit", type=int, default=None, help="items per task (default: the run's; embedded items)")
    parser.add_argument("--policy", type=Path, default=None, help="policy (default: the run's, else fixtures/)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the results file's folder)")
    add_options(parser.add_argument, options("seed", "cache"), prefix="")


def run(args: argparse.Namespace) -> int:
    from crossrisk_bench.config.policy import load_policy
    from crossrisk_bench.data.items import take
    from crossrisk_bench.durability.attacks import load_attacks
    from crossrisk_bench.durability.run import durability_cells
    from crossrisk_bench.durability.summary import durability_lines, merge_durability
    from crossrisk_bench.judges.select import build_judges
    from crossrisk_bench.paths import FIXTURES
    from crossrisk_bench.report.outputs import load_document, write_reports
    from crossrisk_bench.saved_run import weight_models
    from crossrisk_bench.tasks import TASKS

    cache_dir = cache_dir_from_options(args)
    document = load_document(args.results)
    attacks = load_attacks(args.attacks or FIXTURES / "attacks.toml")
    tasks = args.tasks.split(",") if args.tasks else TASKS.names()
    for name in tasks:
        TASKS.get(name)  # an unknown task is one error listing the known ones
    recorded = Path(document.run.get("policy") or FIXTURES / "policy.toml")
    policy = load_policy(
        args.policy or (recorded if recorded.is_file() else FIXTURES / "policy.toml"), known_tasks=TASKS.names()
    )
    limit = args.limit if args.limit is not None else document.run.get("items_per_task")
    only = args.defenses.split(",") if args.defenses else None
    base, defended, skipped = weight_models(document, cache_dir=cache_dir, only=only)
    if not defended:
        raise CrossriskError("the run has no weights or checkpoint defenses; fine-tuning attacks act on weights")
    print(f"attacking {', '.join(s.name for s, _ in defended)} and the base; left out: {', '.join(skipped) or 'none'}")
    part = durability_cells(
        base,
        defended,
        attacks,
        tasks=tasks,
        items=lambda name: take(TASKS.get(name).load_items(), limit, by=TASKS.get(name).balance_by),
        policy=policy,
        judges=build_judges(),
        seed=args.crossrisk_seed,
        cache_dir=cache_dir,
    )
    section = merge_durability([part])
    for line in durability_lines(section["rows"]):
        print(line)
    for path in write_reports(document.replace(durability=section), args.out or args.results.parent):
        print(path)
    print(f"durability run took {section['seconds']:.0f} s")
    return 0
