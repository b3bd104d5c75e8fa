"""`crossrisk report`: re-render the report files from a saved results.json (no models needed)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the results file's folder)")


def run(args: argparse.Namespace) -> int:
    from crossrisk_bench.report.matrix import build_matrix, render_terminal
    from crossrisk_bench.report.outputs import load_document, write_reports

    document = load_document(args.results)
    print("\n".join(render_terminal(build_matrix(document.effects, document.task_order))))
    for path in write_reports(document, args.out or args.results.parent):
        print(path)
    return 0
