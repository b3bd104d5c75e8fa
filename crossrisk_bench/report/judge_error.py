"""Judge error in the reports: how many judged cells carry a judge-corrected estimate, and each
judge-sensitive one (the verdict differs on the corrected interval), in one place for every format."""

from __future__ import annotations

from collections.abc import Sequence

from crossrisk_bench.results import EffectRecord

NOTE = (
    "judge-corrected: each arm's judged rate corrected for the judge's measured sensitivity and "
    "specificity (Rogan-Gladen), their validation counts' uncertainty propagated; judge-sensitive: "
    "the verdict differs on that interval"
)


def _pts(low: float, high: float) -> str:
    return f"{100 * low:+.1f}..{100 * high:+.1f}"


def judge_error_lines(records: Sequence[EffectRecord]) -> list[str]:
    """A summary line, then one line per judge-sensitive cell; nothing when no cell was judged."""
    judged = [r for r in records if r.judge_corrected]
    if not judged:
        return []
    sensitive = [r for r in judged if r.judge_sensitive]
    lines = [f"{NOTE}: {len(judged)} judged cells, {len(sensitive)} judge-sensitive"]
    for r in sensitive:
        c = r.judge_corrected or {}
        lines.append(
            f"judge-sensitive {r.defense_name} x {r.task}: raw {100 * r.regression:+.1f} pts "
            f"({_pts(*r.regression_ci)}) {r.verdict}; corrected {100 * c['regression']:+.1f} pts "
            f"({_pts(*c['regression_ci'])}) {c['verdict']} (judge {c['judge']}: {c['error_rates']})"
        )
    return lines
