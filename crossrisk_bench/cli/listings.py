"""`crossrisk models|tasks|defenses|judges`: what is registered, one line each."""

from __future__ import annotations

import argparse


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """A listing takes no arguments."""


def models(args: argparse.Namespace) -> int:
    from crossrisk_bench.models.loader import KNOWN_MODELS

    for name, description in KNOWN_MODELS.items():
        print(f"{name:24s} {description}")
    return 0


def tasks(args: argparse.Namespace) -> int:
    from crossrisk_bench.tasks import TASKS

    for task in TASKS:
        print(f"{task.name:22s} {task.risk.value:9s} {task.kind:9s} {task.metric}: {task.description}")
    return 0


def defenses(args: argparse.Namespace) -> int:
    from crossrisk_bench.defenses import DEFENSES

    for defense in DEFENSES:
        spec = defense.spec
        print(f"{spec.id:26s} {spec.kind:9s} {spec.description}")
    return 0


def judges(args: argparse.Namespace) -> int:
    from crossrisk_bench.judges import JUDGES

    for judge in JUDGES:
        records = judge.records if isinstance(judge.records, str) else "llm-judge:MODEL@FINGERPRINT"
        fixed = " (fixed by its tasks)" if judge.build is None else ""
        print(f"{judge.key:28s} {records:28s} {judge.description}{fixed}")
    return 0
