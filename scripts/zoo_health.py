"""Is the zoo's exposed base a fair test bed? Its health figures beside SmolLM2-135M-Instruct's.

    python scripts/zoo_health.py                      # SmolLM2 and the shipped exposed base
    python scripts/zoo_health.py --candidate DIR      # also an exposure built into DIR/exposed
    python scripts/zoo_health.py --tasks all          # every task's base rate (saturation check)

Every figure is the suite's own task on every embedded item (the `full` profile): utility,
pii_leakage total disclosure, membership-inference AUC, and on misuse and jailbreak the share
of answers that are on-topic (a refusal or an attempt, by the three-way fulfilment judge; the
rest is "neither": babble, echoes, e-mail text). Answers are cached like any run's.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HEALTH_TASKS = ("utility", "pii_leakage", "membership_inference", "misuse", "jailbreak")


def main() -> None:
    from crossrisk_bench.models.adapters import expose, lineage
    from crossrisk_bench.models.cache import default_cache_dir
    from crossrisk_bench.models.embedded import EMBEDDED_NAME
    from crossrisk_bench.models.loader import EXPOSED_NAME, ModelSpec, load_backend
    from crossrisk_bench.stats import mcnemar_exact, paired_binary_interval
    from crossrisk_bench.tasks import TASKS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidate", action="append", default=[], help="a zoo folder holding exposed/ (repeatable)")
    parser.add_argument("--tasks", default=",".join(HEALTH_TASKS), help="comma-separated task names, or 'all'")
    parser.add_argument("--cache", default=str(default_cache_dir()))
    parser.add_argument(
        "--record", metavar="ZOO_DIR", help="write the figures of the exposure in ZOO_DIR/exposed into its build.json"
    )
    args = parser.parse_args()
    tasks = TASKS.names() if args.tasks == "all" else args.tasks.split(",")
    cache_dir = Path(args.cache)
    pre = load_backend(ModelSpec(EMBEDDED_NAME), cache_dir=cache_dir)
    models = {
        EMBEDDED_NAME: pre,
        "exposed (shipped)": load_backend(ModelSpec(EXPOSED_NAME), cache_dir=cache_dir),
    }
    for folder in args.candidate:
        model, line = expose(copy.deepcopy(pre.model), lineage(pre), Path(folder))
        models[f"exposed ({folder})"] = pre.with_model(model, name=f"candidate-{Path(folder).name}", lineage=line)
    print(f"{'model':34s} " + " ".join(f"{t:>22s}" for t in tasks))
    figures: dict[str, dict[str, float]] = {}
    utility: dict[str, list[float]] = {}
    for name, backend in models.items():
        began = time.perf_counter()
        cells = []
        for task_name in tasks:
            result = TASKS.get(task_name).evaluate(backend)
            if task_name == "utility":
                utility[name] = [o.score for o in result.outcomes]
            s = result.summary
            text = f"{result.value:.3f}"
            figures.setdefault(name, {})[task_name] = round(result.value, 4)
            if "neither_rate" in s:
                text += f" on-topic {1 - s['neither_rate']:.2f}"
                figures[name][f"{task_name}_on_topic"] = round(1 - s["neither_rate"], 4)
            if task_name == "membership_inference":
                text = f"AUC {s['auc_loss']:.3f} tpr1% {s['tpr_at_1pct_fpr']:.2f}"
                figures[name]["membership_auc"] = round(s["auc_loss"], 4)
            cells.append(f"{text:>22s}")
        print(f"{name:34s} " + " ".join(cells) + f"   ({time.perf_counter() - began:.0f} s)", flush=True)
    reference = utility.get(EMBEDDED_NAME)
    for name, scores in utility.items():
        if name != EMBEDDED_NAME and reference is not None:
            gap = paired_binary_interval(reference, scores)
            print(
                f"utility of {name} minus SmolLM2's: {100 * gap.estimate:+.1f} pts "
                f"(95% CI {100 * gap.low:+.1f}..{100 * gap.high:+.1f}, Tango; exact McNemar p={mcnemar_exact(reference, scores):.3g}) "
                f"on {len(scores)} items"
            )
            figures[name]["utility_gap_vs_smollm2"] = round(gap.estimate, 4)
    if args.record:
        record_file = Path(args.record) / "exposed" / "build.json"
        record = json.loads(record_file.read_text())
        record["health"] = {
            "measured_with": "scripts/zoo_health.py (every embedded item, greedy, fp32)",
            "exposed": figures[f"exposed ({args.record})"],
            "smollm2-135m-instruct": figures[EMBEDDED_NAME],
        }
        record_file.write_text(json.dumps(record, indent=2) + "\n")
        print(f"health figures written to {record_file}")


if __name__ == "__main__":
    main()
