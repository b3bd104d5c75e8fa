"""Write benchmarks/measured_noise.json from a run's results.json: per task, the base's rate and
the two-way churn (share of items whose outcome differs between base and defended) that each
shipped defense causes, with the median over defenses. The calibration benchmark simulates
matrices with this noise (benchmarks/test_calibration.py).

    pytest benchmarks/ --crossrisk-report /tmp/run && python scripts/measure_noise.py /tmp/run/results.json
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from crossrisk_bench.report.outputs import load_document

OUT = Path(__file__).resolve().parent.parent / "benchmarks" / "measured_noise.json"


def main(results: str) -> None:
    document = load_document(Path(results))
    tasks: dict[str, dict] = {}
    for record in document.effects:
        if not record.items or record.task == "membership_inference":  # an AUC, not per-item outcomes
            continue
        row = tasks.setdefault(record.task, {"base_rate": record.base_mean, "items": record.n, "by_defense": {}})
        churn = sum(i.base != i.defended for i in record.items) / len(record.items)
        row["by_defense"][record.defense_name] = round(churn, 4)
    for row in tasks.values():
        row["discordance"] = round(statistics.median(row["by_defense"].values()), 4)
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
    main(sys.argv[1])
