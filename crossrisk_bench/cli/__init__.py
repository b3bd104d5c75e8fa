"""`crossrisk`: what is not a test run (model preparation, quick generation, cache upkeep).

User errors print one line (`crossrisk: error: ...`) and exit with status 2; the benchmark
itself runs under pytest (`pytest benchmarks/`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crossrisk_bench.cli import (
    attack,
    cache,
    evaluate,
    generate,
    items,
    judge,
    listings,
    neurons,
    plan,
    prepare,
    report,
    zoo,
)
from crossrisk_bench.errors import CrossriskError


@dataclass(frozen=True)
class Command:
    """One subcommand: its one-line help, what it accepts, and what it does (returns the exit status)."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# Every command, in the order `crossrisk --help` lists them; `main` runs only what is here.
COMMANDS: dict[str, Command] = {
    "models": Command("list the known model names", listings.no_arguments, listings.models),
    "prepare": Command(
        "load a model once (converts the embedded model) and report times", prepare.add_arguments, prepare.run
    ),
    "generate": Command("answer prompts with a model (greedy, cached)", generate.add_arguments, generate.run),
    "tasks": Command("list the registered tasks", listings.no_arguments, listings.tasks),
    "defenses": Command("list the registered defenses", listings.no_arguments, listings.defenses),
    "judges": Command(
        "list the registered judges (KIND=NAME, as --crossrisk-judge takes them)",
        listings.no_arguments,
        listings.judges,
    ),
    "report": Command(
        "re-render the report files from a saved results.json (no models needed)", report.add_arguments, report.run
    ),
    "judge": Command(
        "label every row of a CSV/JSONL file with a judge; with --labels-column, "
        "print agreement and Cohen's kappa against those labels",
        judge.add_arguments,
        judge.run,
    ),
    "plan": Command(
        "items each task needs for a minimum detectable effect within a tolerance, from a saved results.json",
        plan.add_arguments,
        plan.run,
    ),
    "items": Command(
        "rebuild the embedded item files under fixtures/items/ (deterministic)", items.add_arguments, items.run
    ),
    "eval": Command("run tasks on one model and print their metrics", evaluate.add_arguments, evaluate.run),
    "zoo": Command("list or rebuild the defended zoo (LoRA adapters under fixtures/zoo/)", zoo.add_arguments, zoo.run),
    "neurons": Command(
        "conflict-entangled neuron analysis of a saved run (adds it to its reports)",
        neurons.add_arguments,
        neurons.run,
    ),
    "attack": Command(
        "fine-tuning attacks on a saved run's weight defenses and on its base (adds durability to its reports)",
        attack.add_arguments,
        attack.run,
    ),
    "cache": Command("show or clear the response cache", cache.add_arguments, cache.run),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossrisk", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except CrossriskError as exc:
        print(f"crossrisk: error: {exc}", file=sys.stderr)
        return 2
