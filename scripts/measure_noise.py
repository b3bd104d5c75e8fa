"""Write benchmarks/measured_noise.json from a run's results.json: per task, the base's rate and
the two-way churn (share of items whose outcome differs between base and defended) that each
shipped defense causes, and as the task's "measured" churn the upper quartile over defenses (the
more invasive defenses, where a gate matters; the median is 0 on tasks most defenses leave
alone). The calibration benchmark simulates matrices with this noise
(benchmarks/test_calibration.py).

    pytest benchmarks/ --crossrisk-report /tmp/run && python scripts/measure_noise.py /tmp/run/results.json

Tasks the run lacks can be given as TASK=BASE_RATE (a base rate measured elsewhere): they are
written as "assumed", with the pooled upper-quartile churn of the measured tasks for every
defense.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from crossrisk_bench.report.outputs import load_document

OUT = Path(__file__).resolve().parent.parent / "benchmarks" / "measured_noise.json"


def upper_quartile(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=4, method="inclusive")[2], 4) if len(values) > 1 else values[0]


def main(results: str, *assumed: str) -> None:
    document = load_document(Path(results))
    tasks: dict[str, dict] = {}
    for record in document.effects:
        if not record.items or record.task == "membership_inference":  # an AUC, not per-item outcomes
            continue
        row = tasks.setdefault(record.task, {"base_rate": record.base_mean, "items": record.n, "by_defense": {}})
        churn = sum(i.base != i.defended for i in record.items) / len(record.items)
        row["by_defense"][record.defense_name] = round(churn, 4)
    for row in tasks.values():
        row["discordance"] = upper_quartile(list(row["by_defense"].values()))
    pooled = upper_quartile([v for row in tasks.values() for v in row["by_defense"].values()])
    defenses = sorted({d for row in tasks.values() for d in row["by_defense"]})
    for entry in assumed:
        task, rate = entry.split("=")
        tasks[task] = {
            "assumed": "base rate measured elsewhere; churn pooled over the measured tasks",
            "base_rate": float(rate),
            "by_defense": dict.fromkeys(defenses, pooled),
            "discordance": pooled,
        }
    OUT.write_text(
        json.dumps(
            {
                "source": f"{results} ({document.run.get('profile')} profile, model {document.run.get('model')})",
                "measured": time.strftime("%Y-%m-%d"),
                "tasks": tasks,
            },
            indent=1,
            sort_keys=True,
        )
        + "\n"
    )
    print(f"wrote {OUT} ({len(tasks)} tasks)")


if __name__ == "__main__":
    main(*sys.argv[1:])
