"""`crossrisk neurons`: the conflict-entangled neuron analysis of a saved run, added to its reports."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from crossrisk_bench.config.options import add_options, cache_dir_from_options, options
from crossrisk_bench.errors import CrossriskError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="results.json of a run (pytest --crossrisk-report DIR)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the results file's folder)")
    parser.add_argument("--per-task", type=int, default=16, help="calibration prompts per task (default 16)")
    parser.add_argument("--q", type=float, default=0.05, help="top-q fraction by risk importance (default 0.05)")
    parser.add_argument(
        "--p", type=float, default=0.05, help="top-p fraction by utility importance removed (default 0.05)"
    )
    parser.add_argument("--causal-items", type=int, default=24, help="items per causal re-run (default 24)")
    parser.add_argument(
        "--importance", choices=["snip", "wanda"], default="snip", help="what ranks the critical sets (default snip)"
    )
    parser.add_argument(
        "--sparsities",
        default="0.005,0.01,0.03",
        help="fractions of MLP neurons removed in the brittleness curves (default 0.005,0.01,0.03; 'none' skips them)",
    )
    parser.add_argument(
        "--brittleness-items", type=int, default=16, help="held-out items per risk probe in the curves (default 16)"
    )
    parser.add_argument(
        "--full-curves",
        action="store_true",
        help="remove the region at every sparsity (default: below the largest only while the larger one raised the risk)",
    )
    parser.add_argument(
        "--base-curves",
        action="store_true",
        help="also zero each risk's region in the base where a defense aimed at that risk has its own curve",
    )
    parser.add_argument(
        "--policy", type=Path, default=None, help="policy judging the curves (default: the run's, else fixtures/)"
    )
    add_options(parser.add_argument, options("seed", "cache"), prefix="")


def _sparsities(text: str) -> tuple[float, ...]:
    """`--sparsities 0.005,0.01` -> (0.005, 0.01); "none" -> ()."""
    if text.strip().lower() == "none":
        return ()
    try:
        values = tuple(sorted(float(x) for x in text.split(",") if x.strip()))
    except ValueError:
        raise CrossriskError(f"--sparsities {text!r}: expected fractions such as 0.005,0.01,0.03 or 'none'") from None
    if not values or not all(0 < v < 1 for v in values):
        raise CrossriskError(f"--sparsities {text!r}: every fraction must lie in (0, 1)")
    return values


def run(args: argparse.Namespace) -> int:
    from crossrisk_bench.config.policy import load_policy
    from crossrisk_bench.neurons.analysis import analyse_results
    from crossrisk_bench.paths import FIXTURES
    from crossrisk_bench.report.outputs import load_document, write_reports
    from crossrisk_bench.tasks import TASKS

    if not (0 < args.q <= 1 and 0 < args.p <= 1) or args.per_task < 1:
        raise CrossriskError("--q and --p must be in (0, 1] and --per-task >= 1")
    sparsities = _sparsities(args.sparsities)
    document = load_document(args.results)
    policy = None
    if sparsities:
        recorded = Path(document.run.get("policy") or FIXTURES / "policy.toml")  # the run's, when still there
        chosen = args.policy or (recorded if recorded.is_file() else FIXTURES / "policy.toml")
        policy = load_policy(chosen, known_tasks=TASKS.names())
    start = time.perf_counter()
    section = analyse_results(
        document,
        cache_dir=cache_dir_from_options(args),
        per_task=args.per_task,
        q=args.q,
        p=args.p,
        seed=args.crossrisk_seed,
        causal_items=args.causal_items,
        method=args.importance,
        policy=policy,
        brittleness_items=args.brittleness_items,
        sparsities=sparsities or (),
        base_curves=args.base_curves,
        full_curves=args.full_curves,
    )
    section["seconds"] = round(time.perf_counter() - start, 1)
    document = document.replace(neurons=section)
    for f in section["pairs"]:
        print(
            f"{'/'.join(f['pair']):18s} entangled {f['entangled']:5d}  Jaccard {f['jaccard']:.3f}  "
            f"overlap {f['overlap_ratio']:.2f}x random (p={f['overlap_p_value']:.3g})"
        )
    rate = section["consistency_rate"]
    print(
        f"trend consistency {'n/a' if rate is None else f'{rate:.0%}'} over {len(section['trends'])} cases; "
        f"rank correlation {section['rank_correlation']}"
    )
    for c in section["causal"]:
        print(
            f"causal {c['defense']} on {c['task']}: conflict {c['conflict'] * 100:+.1f} pts -> entangled ablated "
            f"{c['conflict_entangled_ablated'] * 100:+.1f}, random ablated {c['conflict_random_ablated'] * 100:+.1f}"
        )
    for v in section.get("brittleness", {}).get("verdicts", []):
        print(
            f"brittleness {v['risk']:9s} {v['model']} ({v['mode']}): "
            + (f"sparse region at {v['at_sparsity']:.1%}" if v["sparse_region"] else "no sparse region found")
        )
    for path in write_reports(document, args.out or args.results.parent):
        print(path)
    print(f"neuron analysis took {section['seconds']:.0f} s")
    return 0
