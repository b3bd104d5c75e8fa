"""`crossrisk`: what is not a test run (model preparation, quick generation, cache upkeep).

User errors print one line (`crossrisk: error: ...`) and exit with status 2; the benchmark
itself runs under pytest (`pytest benchmarks/`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from crossrisk_bench.errors import CrossriskError, Unsupported
from crossrisk_bench.models.cache import default_cache_dir
from crossrisk_bench.models.loader import DEFAULT_MODEL, KNOWN_MODELS, ModelSpec, build_spec


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"model name, directory or hub id (default {DEFAULT_MODEL})"
    )
    parser.add_argument("--adapter", default=None, help="PEFT/LoRA adapter directory on top of the model")
    parser.add_argument("--cache", type=Path, default=None, help="cache directory (default: ~/.cache/crossrisk-bench)")
    parser.add_argument(
        "--device", default="auto", help="auto (a GPU where one exists, else the CPU), cpu, cuda, cuda:N"
    )
    parser.add_argument(
        "--dtype", default=None, help="float32, bfloat16, float16 (default: float32 on CPU, bf16 on GPU)"
    )
    parser.add_argument("--revision", default=None, help="hub revision of a hub model")
    parser.add_argument("--backend", default="hf", help="hf (default) or openai (a served model; needs --base-url)")
    parser.add_argument("--base-url", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key-env", default=None, help="environment variable holding the server's API key")
    parser.add_argument("--tokenizer", default=None, help="the served model's tokenizer (for log-likelihood tasks)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossrisk", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list the known model names")
    prepare = sub.add_parser("prepare", help="load a model once (converts the embedded model) and report times")
    _model_args(prepare)
    generate = sub.add_parser("generate", help="answer prompts with a model (greedy, cached)")
    _model_args(generate)
    generate.add_argument("prompts", nargs="+", help="user messages")
    generate.add_argument("--system", default=None, help="system prompt")
    generate.add_argument("--max-new-tokens", type=int, default=64)
    generate.add_argument("--no-cache", action="store_true")
    sub.add_parser("tasks", help="list the registered tasks")
    sub.add_parser("defenses", help="list the registered defenses")
    sub.add_parser("judges", help="list the registered judges (KIND=NAME, as --crossrisk-judge takes them)")
    report = sub.add_parser("report", help="re-render the report files from a saved results.json (no models needed)")
    report.add_argument("results", type=Path)
    report.add_argument("--out", type=Path, default=None, help="output folder (default: the results file's folder)")
    judge = sub.add_parser(
        "judge",
        help="label every row of a CSV/JSONL file with a judge; with --labels-column, "
        "print agreement and Cohen's kappa against those labels",
    )
    judge.add_argument(
        "kind",
        help="refusal (labels: compliance, refusal, partial_refusal), fulfilment (fulfilment, "
        "refusal, neither; needs the prompt column) or toxicity (toxic, non_toxic)",
    )
    judge.add_argument("file", type=Path)
    judge.add_argument("--prompt-column", default="prompt")
    judge.add_argument("--response-column", default="response")
    judge.add_argument("--labels-column", default=None, help="human labels to measure the judge against")
    judge.add_argument(
        "--judge",
        default=None,
        help="which judge of the kind (`crossrisk judges` lists them): refusal keyword (default), learned, "
        "embedding, string-match or llm; fulfilment rules or llm; toxicity lexicon (default) or classifier",
    )
    judge.add_argument(
        "--write-validation",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --labels-column: write the judge's sensitivity and specificity (as counts) for "
        "`pytest --crossrisk-judge-validation FILE`",
    )
    judge.add_argument("--judge-model", default=None, help="model for --judge llm (a known name, directory or hub id)")
    judge.add_argument("--cache", type=Path, default=None)
    judge.add_argument(
        "--out", type=Path, default=None, help="write one JSON line per row: row index, where (file:line), label"
    )
    plan = sub.add_parser(
        "plan",
        help="items each task needs for a minimum detectable effect within a tolerance, from a saved results.json",
    )
    plan.add_argument("results", type=Path)
    plan.add_argument("--tolerance", type=float, default=5.0, help="points (default 5)")
    plan.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    items = sub.add_parser("items", help="rebuild the embedded item files under fixtures/items/ (deterministic)")
    items.add_argument("action", choices=["build"])
    evaluate = sub.add_parser("eval", help="run tasks on one model and print their metrics")
    _model_args(evaluate)
    evaluate.add_argument("tasks", nargs="*", help="task names (default: all)")
    evaluate.add_argument("--profile", default="quick", help="quick (default) or full")
    evaluate.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")
    evaluate.add_argument("--limit", type=int, default=None, help="at most N items per task (overrides the profile)")
    evaluate.add_argument(
        "--judge",
        action="append",
        default=[],
        metavar="KIND=NAME",
        help="refusal=keyword|embedding|llm, fulfilment=rules|llm (repeatable)",
    )
    evaluate.add_argument("--judge-model", default=None, help="the model an llm judge asks")
    zoo = sub.add_parser("zoo", help="list or rebuild the defended zoo (LoRA adapters under fixtures/zoo/)")
    zoo.add_argument("action", choices=["list", "build"])
    zoo.add_argument("members", nargs="*", help="members to build (default: the exposure, then every member)")
    zoo.add_argument("--out", type=Path, default=None, help="output folder (default: fixtures/zoo in the repository)")
    zoo.add_argument(
        "--steps",
        type=int,
        default=None,
        help="override every member's training steps (a short check build; needs --out)",
    )
    zoo.add_argument("--cache", type=Path, default=None)
    neurons = sub.add_parser(
        "neurons", help="conflict-entangled neuron analysis of a saved run (adds it to its reports)"
    )
    neurons.add_argument("results", type=Path, help="results.json of a run (pytest --crossrisk-report DIR)")
    neurons.add_argument("--out", type=Path, default=None, help="output folder (default: the results file's folder)")
    neurons.add_argument("--per-task", type=int, default=16, help="calibration prompts per task (default 16)")
    neurons.add_argument("--q", type=float, default=0.05, help="top-q fraction by risk importance (default 0.05)")
    neurons.add_argument(
        "--p", type=float, default=0.05, help="top-p fraction by utility importance removed (default 0.05)"
    )
    neurons.add_argument("--causal-items", type=int, default=24, help="items per causal re-run (default 24)")
    neurons.add_argument(
        "--importance", choices=["snip", "wanda"], default="snip", help="what ranks the critical sets (default snip)"
    )
    neurons.add_argument(
        "--sparsities",
        default="0.005,0.01,0.03",
        help="fractions of MLP neurons removed in the brittleness curves (default 0.005,0.01,0.03; 'none' skips them)",
    )
    neurons.add_argument(
        "--brittleness-items", type=int, default=16, help="held-out items per risk probe in the curves (default 16)"
    )
    neurons.add_argument(
        "--full-curves",
        action="store_true",
        help="remove the region at every sparsity (default: below the largest only while the larger one raised the risk)",
    )
    neurons.add_argument(
        "--base-curves",
        action="store_true",
        help="also zero each risk's region in the base where a defense aimed at that risk has its own curve",
    )
    neurons.add_argument(
        "--policy", type=Path, default=None, help="policy judging the curves (default: the run's, else fixtures/)"
    )
    neurons.add_argument("--seed", type=int, default=0)
    neurons.add_argument("--cache", type=Path, default=None)
    attack = sub.add_parser(
        "attack",
        help="fine-tuning attacks on a saved run's weight defenses and on its base (adds durability to its reports)",
    )
    attack.add_argument("results", type=Path, help="results.json of a run (pytest --crossrisk-report DIR)")
    attack.add_argument("--attacks", type=Path, default=None, help="attacks file (default: fixtures/attacks.toml)")
    attack.add_argument(
        "--defenses", default=None, help="comma-separated defended models (default: every weights/checkpoint one)"
    )
    attack.add_argument("--tasks", default=None, help="comma-separated tasks (default: every task)")
    attack.add_argument("--limit", type=int, default=None, help="items per task (default: the run's; embedded items)")
    attack.add_argument("--policy", type=Path, default=None, help="policy (default: the run's, else fixtures/)")
    attack.add_argument("--out", type=Path, default=None, help="output folder (default: the results file's folder)")
    attack.add_argument("--seed", type=int, default=0)
    attack.add_argument("--cache", type=Path, default=None)
    cache = sub.add_parser("cache", help="show or clear the response cache")
    cache.add_argument("action", choices=["info", "clear"])
    cache.add_argument("--cache", type=Path, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except CrossriskError as exc:
        print(f"crossrisk: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    cache_dir = getattr(args, "cache", None) or default_cache_dir()
    if args.command == "models":
        for name, description in KNOWN_MODELS.items():
            print(f"{name:24s} {description}")
        return 0
    if args.command == "tasks":
        from crossrisk_bench.tasks import TASKS

        for task in TASKS:
            print(f"{task.name:22s} {task.risk.value:9s} {task.kind:9s} {task.metric}: {task.description}")
        return 0
    if args.command == "judges":
        from crossrisk_bench.judges import JUDGES

        for judge in JUDGES:
            records = judge.records if isinstance(judge.records, str) else "llm-judge:MODEL@FINGERPRINT"
            fixed = " (fixed by its tasks)" if judge.build is None else ""
            print(f"{judge.key:28s} {records:28s} {judge.description}{fixed}")
        return 0
    if args.command == "defenses":
        from crossrisk_bench.defenses import DEFENSES

        for defense in DEFENSES:
            spec = defense.spec
            print(f"{spec.id:26s} {spec.kind:9s} {spec.description}")
        return 0
    if args.command == "judge":
        import json

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
        columns = [
            c for c in (args.prompt_column if needs_prompt else None, args.response_column, args.labels_column) if c
        ]
        rows = read_rows(args.file, columns)
        backend = None
        if entry.needs_model:
            from crossrisk_bench.models.loader import load_backend

            if not args.judge_model:
                raise CrossriskError(f"--judge {name} needs --judge-model NAME (a known name, directory or hub id)")
            backend = load_backend(ModelSpec(args.judge_model), cache_dir=cache_dir)
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
    if args.command == "plan":
        from crossrisk_bench.report.outputs import load_document
        from crossrisk_bench.verdict.power import plan_items, render_plan

        if args.tolerance <= 0 or not 0 < args.power < 1:
            raise CrossriskError(f"need --tolerance > 0 and 0 < --power < 1, got {args.tolerance} and {args.power}")
        plans = plan_items(load_document(args.results), tolerance=args.tolerance, power=args.power)
        if not plans:
            raise CrossriskError(f"{args.results} records no standard errors (a results.json older than the verdicts)")
        print("\n".join(render_plan(plans, tolerance=args.tolerance, power=args.power)))
        return 0
    if args.command == "report":
        from crossrisk_bench.report.matrix import build_matrix, render_terminal
        from crossrisk_bench.report.outputs import load_document, write_reports

        document = load_document(args.results)
        print("\n".join(render_terminal(build_matrix(document.effects, document.task_order))))
        for path in write_reports(document, args.out or args.results.parent):
            print(path)
        return 0
    if args.command == "items":
        from crossrisk_bench.data.items import write_jsonl
        from crossrisk_bench.paths import ITEMS
        from crossrisk_bench.tasks import ITEM_BUILDERS

        ITEMS.mkdir(parents=True, exist_ok=True)
        for name, build in ITEM_BUILDERS.items():
            records = build()
            write_jsonl(ITEMS / f"{name}.jsonl", records)
            print(f"{ITEMS / (name + '.jsonl')}: {len(records)} items")
        return 0
    if args.command == "zoo":
        return _zoo(args, cache_dir)
    if args.command == "neurons":
        return _neurons(args, cache_dir)
    if args.command == "attack":
        return _attack(args, cache_dir)
    if args.command == "cache":
        from crossrisk_bench.models.cache import ResponseCache

        with ResponseCache(cache_dir / "responses.sqlite") as cache:
            if args.action == "clear":
                cache.clear()
            print(f"{cache.path}: {len(cache)} cached responses")
        return 0
    from crossrisk_bench.models.loader import load_backend

    spec = build_spec(
        args.model,
        adapter=args.adapter,
        dtype=args.dtype,
        revision=args.revision,
        device=args.device,
        backend=args.backend,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        tokenizer=args.tokenizer,
    )
    start = time.perf_counter()
    backend = load_backend(spec, cache_dir=cache_dir, use_cache=not getattr(args, "no_cache", False))
    total = time.perf_counter() - start
    if args.command == "prepare":
        print(
            f"{backend.name}: ready in {total:.1f} s (weights load {backend.load_seconds:.1f} s); fingerprint {backend.fingerprint}"
        )
        return 0
    if args.command == "eval":
        from crossrisk_bench.config.profiles import items_limit
        from crossrisk_bench.judges.select import build_judges, parse_judge_options
        from crossrisk_bench.tasks import TASKS

        tasks = [TASKS.get(name) for name in args.tasks] or list(TASKS)
        limit = items_limit(args.profile, args.limit)
        choice = parse_judge_options(args.judge, args.judge_model)
        judge_backend = load_backend(ModelSpec(choice.model), cache_dir=cache_dir) if choice.model else None
        judges = build_judges(choice, judge_backend)
        for task in tasks:
            start = time.perf_counter()
            try:
                result = task.evaluate(backend, limit=limit, judges=judges)
            except Unsupported as exc:
                print(f"{task.name:22s} skipped: {exc}")
                continue
            extra = " ".join(f"{k}={v:.3f}" for k, v in result.summary.items())
            print(
                f"{task.name:22s} {result.value:6.3f}  ({task.metric}; n={result.n}; judge {result.judge}; "
                f"{time.perf_counter() - start:.1f} s) {extra}"
            )
        return 0
    from crossrisk_bench.models.base import DecodingConfig, Prompt

    prompts = [Prompt.chat(p, system_prompt=args.system) for p in args.prompts]
    for prompt, generation in zip(
        prompts, backend.generate(prompts, DecodingConfig(max_new_tokens=args.max_new_tokens))
    ):
        print(f"> {prompt.messages[-1].content}\n{generation.text}\n")
    return 0


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


def _neurons(args: argparse.Namespace, cache_dir: Path) -> int:
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
        cache_dir=cache_dir,
        per_task=args.per_task,
        q=args.q,
        p=args.p,
        seed=args.seed,
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


def _attack(args: argparse.Namespace, cache_dir: Path) -> int:
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
        seed=args.seed,
        cache_dir=cache_dir,
    )
    section = merge_durability([part])
    for line in durability_lines(section["rows"]):
        print(line)
    for path in write_reports(document.replace(durability=section), args.out or args.results.parent):
        print(path)
    print(f"durability run took {section['seconds']:.0f} s")
    return 0


def _zoo(args: argparse.Namespace, cache_dir: Path) -> int:
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
    zoo.build_zoo(args.members, out, cache_dir, steps=args.steps)
    print(f"zoo built in {time.perf_counter() - start:.0f} s into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
