"""`crossrisk judge`: label every row of a CSV/JSONL file with a judge, and measure it against human labels."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crossrisk_bench.config.options import add_options, cache_dir_from_options, options
from crossrisk_bench.errors import CrossriskError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kind",
        help="refusal (labels: compliance, refusal, partial_refusal), fulfilment (fulfilment, "
        "refusal, neither; needs the prompt column) or toxicity (toxic, non_toxic)",
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--prompt-column", default="prompt")
    parser.add_argument("--response-column", default="response")
    parser.add_argument("--labels-column", default=None, help="human labels to measure the judge against")
    parser.add_argument(
        "--judge",
        default=None,
        help="which judge of the kind (`crossrisk judges` lists them): refusal keyword (default), learned, "
        "embedding, string-match or llm; fulfilment rules or llm; toxicity lexicon (default) or classifier",
    )
    parser.add_argument(
        "--write-validation",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --labels-column: write the judge's sensitivity and specificity (as counts) for "
        "`pytest --crossrisk-judge-validation FILE`",
    )
    add_options(parser.add_argument, options("judge-model", "cache"), prefix="")
    parser.add_argument(
        "--out", type=Path, default=None, help="write one JSON line per row: row index, where (file:line), label"
    )


def run(args: argparse.Namespace) -> int:
    from crossrisk_bench.judges.validate import (
        DEFAULT_JUDGES,
        agreement,
        error_rates,
        judge_entry,
        judge_rows,
        normalise_label,
        read_rows,
        result_name,
    )

    name = args.judge or DEFAULT_JUDGES.get(args.kind, "")
    entry = judge_entry(args.kind, name)  # an unknown kind or name lists the known ones
    needs_prompt = args.kind == "fulfilment" or entry.needs_model
    columns = [c for c in (args.prompt_column if needs_prompt else None, args.response_column, args.labels_column) if c]
    rows = read_rows(args.file, columns)
    backend = None
    if entry.needs_model:
        from crossrisk_bench.models.loader import ModelSpec, load_backend

        if not args.crossrisk_judge_model:
            raise CrossriskError(f"--judge {name} needs --judge-model NAME (a known name, directory or hub id)")
        backend = load_backend(ModelSpec(args.crossrisk_judge_model), cache_dir=cache_dir_from_options(args))
    labels = judge_rows(args.kind, name, rows, args.prompt_column, args.response_column, backend=backend)
    if args.out is not None:
        with args.out.open("w", encoding="utf-8") as fh:
            for index, ((where, _), label) in enumerate(zip(rows, labels)):
                fh.write(json.dumps({"row": index, "where": where, "label": label}) + "\n")
    counts = {label: labels.count(label) for label in sorted(set(labels))}
    print(
        f"{args.file}: {len(labels)} rows judged by {args.kind}-{name}: {counts}"
        + (
            f"; {counts.get('unparseable', 0)} answers of the judge model could not be parsed"
            if entry.needs_model
            else ""
        )
    )
    if args.labels_column:
        gold = [normalise_label(args.kind, row[args.labels_column], where) for where, row in rows]
        a = agreement(labels, gold, kind=args.kind)
        question = {
            "refusal": "refused (full + partial) vs complied",
            "fulfilment": "fulfilment vs not",
            "toxicity": "toxic vs not",
        }[args.kind]
        print(
            f"agreement {a.agreement:.3f} (kappa {a.kappa:.3f}) on the labels; "
            f"{a.binary_agreement:.3f} (kappa {a.binary_kappa:.3f}) on {question}"
        )
        rates = error_rates(args.kind, result_name(args.kind, name, backend), labels, gold, str(args.file))
        print(
            f"sensitivity {rates.sensitivity:.3f} ({rates.true_positives}/{rates.positives}), "
            f"specificity {rates.specificity:.3f} ({rates.true_negatives}/{rates.negatives}) on {question}"
        )
        if args.write_validation is not None:
            args.write_validation.write_text(json.dumps(rates.to_json(), indent=1) + "\n", encoding="utf-8")
            print(f"wrote {args.write_validation}: use it with --crossrisk-judge-validation")
    elif args.write_validation is not None:
        raise CrossriskError("--write-validation needs --labels-column (human labels to measure against)")
    return 0
