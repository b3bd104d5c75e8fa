"""Markdown tables of the gate's simulated operating characteristic, from the `calibration.json`
that `pytest benchmarks/test_calibration.py --crossrisk-calibration --crossrisk-report DIR` writes.

    python scripts/calibration_table.py DIR/calibration.json
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> None:
    data = json.loads(open(path, encoding="utf-8").read())
    oc = {k.split("/", 1)[1]: v for k, v in data.items() if k.startswith("oc/")}
    if oc:
        print(
            "| task | items (clusters) | base rate | churn low / measured / high | P(pass) at 0 | P(fail) at T | P(fail) at 2T | items: pass at 0 / fail at 2T (80%) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for task, f in oc.items():
            rows = f["rows"]
            churns = sorted(
                {k.split(", ")[0] for k in rows}, key=lambda s: ("low", "measured", "high").index(s.split()[0])
            )
            measured = next(c for c in churns if c.startswith("measured"))

            def at(churn: str, factor: str, verdict: str, rows: dict = rows) -> str:
                return f"{rows[f'{churn}, rise {factor}'][verdict]:.0%}"

            sizes = f["items_for_80pct"]
            need = " / ".join(str(sizes[k]) if sizes[k] else "> 20,000" for k in ("pass_80_at_0", "fail_80_at_2T"))
            clusters = f" ({f['clusters']})" if f.get("clusters") else ""
            print(
                f"| {task} | {f['items']}{clusters} | {f['base_rate']:.2f} | "
                + " / ".join(c.split()[-1] for c in churns)
                + f" | {' / '.join(at(c, '0T', 'pass') for c in churns)} | {at(measured, '1T', 'fail')} | "
                f"{' / '.join(at(c, '2T', 'fail') for c in churns)} | {need} |"
            )
    for key, f in data.items():
        if key.startswith("null_matrices/"):
            planted = {k: v for k, v in f.items() if k.startswith("planted_2T_in_")}
            print(
                f"\n{key.split('/')[1]}: {f['matrices']} null matrices of {f['cells']} cells "
                f"({f['tolerance_cells']} tolerance / {f['efficacy_cells']} efficacy cells in the families): "
                f"{f['any_fail']:.1%} contain a failed cell, {f['any_false_efficacy']:.1%} a false efficacy; "
                + ", ".join(f"{k.removeprefix('planted_2T_in_')} +2T caught in {v:.0%}" for k, v in planted.items())
            )


if __name__ == "__main__":
    main(sys.argv[1])
