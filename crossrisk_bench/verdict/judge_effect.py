"""The judge-corrected twin of an effect: the same cell re-assessed on Rogan-Gladen corrected
rates (`judges.error_rates.corrected_delta`), and whether the verdict would change (`judge_sensitive`).

Why beside the raw effect and not instead of it: the raw paired estimate is exact about what the
judge said; the corrected one is about what the model did, but rests on error rates measured on
other models' answers. A verdict that flips between them depends on the judge, and says so.
The verdict rules are `effects.assess`'s own, given the corrected interval as its comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from crossrisk_bench.config.policy import Policy
from crossrisk_bench.judges.error_rates import JudgeErrorRates, corrected_delta
from crossrisk_bench.results import Verdict
from crossrisk_bench.stats import Interval, PairedComparison
from crossrisk_bench.verdict.effects import Effect, assess


class JudgeCorrected(TypedDict):
    """What an effect record's `judge_corrected` holds (rates and intervals in outcome units)."""

    judge: str
    error_rates: str
    error_rates_source: str
    base_rate: float
    defended_rate: float
    delta: float
    ci: list[float]
    regression: float
    regression_ci: list[float]
    verdict: Verdict
    judge_sensitive: bool


def judge_corrected(
    effect: Effect,
    base: Sequence[float],
    defended: Sequence[float],
    rates: JudgeErrorRates,
    policy: Policy,
    *,
    clusters: Sequence[str] | None = None,
    seed: int = 0,
    scale: float = 1.0,
) -> JudgeCorrected | None:
    """The corrected estimate, interval, verdict and flag as JSON; None when the outcomes are not
    binary judge calls or the judge is near chance."""
    if any(v not in (0.0, 1.0) for v in [*base, *defended]) or rates.youden <= 0.05:
        return None
    raw = effect.comparison.delta
    fixed = corrected_delta(
        base,
        defended,
        rates,
        raw_interval=(raw.low, raw.high),
        clusters=clusters,
        seed=seed,
        confidence=raw.confidence,
        resamples=policy.resamples,
    )
    width = fixed.high - fixed.low
    comparison = PairedComparison(
        len(base),
        fixed.base_rate,
        fixed.defended_rate,
        Interval(fixed.estimate, fixed.low, fixed.high, fixed.confidence),
        fixed.p_value,
        "judge-corrected",
        "rogan-gladen x paired bootstrap x Beta(Se, Sp)",
        width / 3.92,  # normal-equivalent standard error, for the power figures only
    )
    twin = assess(
        defense=effect.defense,
        defense_risk=effect.defense_risk,
        task=effect.task,
        task_risk=effect.task_risk,
        base=base,
        defended=defended,
        policy=policy,
        seed=seed,
        comparison=comparison,
        gate="tolerance" if effect.gate == "tolerance" else None,
        scale=scale,
    )
    r = twin.regression
    return {
        "judge": rates.judge,
        "error_rates": rates.describe(),
        "error_rates_source": rates.source,
        "base_rate": fixed.base_rate,
        "defended_rate": fixed.defended_rate,
        "delta": fixed.estimate,
        "ci": [fixed.low, fixed.high],
        "regression": r.estimate,
        "regression_ci": [r.low, r.high],
        "verdict": twin.verdict,
        "judge_sensitive": twin.verdict != effect.verdict,
    }
