"""`crossrisk prepare`: load a model once (the embedded model is converted then) and say how long it took."""

from __future__ import annotations

import argparse
import time

from crossrisk_bench.cli.common import add_model_arguments, load_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    backend = load_model(args)
    total = time.perf_counter() - start
    print(
        f"{backend.name}: ready in {total:.1f} s (weights load {backend.load_seconds:.1f} s); fingerprint {backend.fingerprint}"
    )
    return 0
