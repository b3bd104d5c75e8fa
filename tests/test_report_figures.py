"""Report figures leave the process's matplotlib state alone: no backend switch, no pyplot figure."""

from __future__ import annotations

import sys

from crossrisk_bench.report.matrix import build_matrix
from crossrisk_bench.report.outputs import heatmap_png
from crossrisk_bench.results import EffectRecord


def test_the_heatmap_keeps_the_callers_matplotlib_backend() -> None:
    import matplotlib

    record = EffectRecord.from_json(
        {
            "defense": {"name": "guard_prompt", "target": "safety", "kind": "prompt"},
            "task": "pii_leakage",
            "task_risk": "privacy",
            "n": 10,
            "regression": 0.07,
            "regression_ci": [0.01, 0.12],
            "p_value": 0.03,
            "label": "conflict",
        }
    )
    previous = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        figures_before = (
            len(sys.modules["matplotlib.pyplot"].get_fignums()) if "matplotlib.pyplot" in sys.modules else 0
        )
        png = heatmap_png(build_matrix([record], ["pii_leakage"]))
        assert png.startswith(b"\x89PNG") and matplotlib.get_backend() == "svg"
        if "matplotlib.pyplot" in sys.modules:
            assert len(sys.modules["matplotlib.pyplot"].get_fignums()) == figures_before
    finally:
        matplotlib.use(previous)
