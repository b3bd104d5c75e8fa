"""Judge error carried into an effect: each arm's judged rate corrected for the judge's measured
sensitivity and specificity (Rogan-Gladen), with the validation counts' uncertainty propagated.

Why: a judge that misses 10% of refusals shrinks every measured change in refusal rate by about
that much, and its false positives add a floor to both arms. With sensitivity Se and specificity
Sp an observed rate q estimates the true rate (q + Sp - 1) / (Se + Sp - 1). Se and Sp are
themselves estimates from a few hundred human-labelled answers, so the corrected interval draws
them from their Beta posteriors (uniform prior) while resampling the paired items (or clusters),
and is never narrower than the gate's own interval rescaled by the point correction (the
percentile bootstrap alone undercovers at small item counts). Pure numpy; no judge is run here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.stats import DEFAULT_CONFIDENCE

MIN_YOUDEN = 0.05  # Se + Sp - 1 below this: the judge is near chance and no correction is defined


@dataclass(frozen=True)
class JudgeErrorRates:
    """A judge's measured error rates on the binary question its outcome counts (for refusal:
    refused, full + partial, vs complied), as counts, so their uncertainty can be propagated."""

    judge: str
    true_positives: int  # judged positive among the human-labelled positives
    positives: int
    true_negatives: int  # judged negative among the human-labelled negatives
    negatives: int
    source: str = ""  # what labels, and whether out of sample

    def __post_init__(self) -> None:
        if not (0 <= self.true_positives <= self.positives and 0 <= self.true_negatives <= self.negatives):
            raise ValueError(f"{self.judge}: counts must satisfy 0 <= true <= total")
        if self.positives == 0 or self.negatives == 0:
            raise ValueError(f"{self.judge}: error rates need both positive and negative labelled answers")

    @property
    def sensitivity(self) -> float:
        return self.true_positives / self.positives

    @property
    def specificity(self) -> float:
        return self.true_negatives / self.negatives

    @property
    def youden(self) -> float:
        return self.sensitivity + self.specificity - 1.0

    def draws(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Se and Sp drawn from their Beta(successes + 1, failures + 1) posteriors."""
        se = rng.beta(self.true_positives + 1, self.positives - self.true_positives + 1, size)
        sp = rng.beta(self.true_negatives + 1, self.negatives - self.true_negatives + 1, size)
        return se, sp

    def describe(self) -> str:
        return (
            f"Se {self.sensitivity:.3f} ({self.true_positives}/{self.positives}), "
            f"Sp {self.specificity:.3f} ({self.true_negatives}/{self.negatives})"
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"sensitivity": self.sensitivity, "specificity": self.specificity}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JudgeErrorRates:
        try:
            return cls(
                str(data["judge"]),
                int(data["true_positives"]),
                int(data["positives"]),
                int(data["true_negatives"]),
                int(data["negatives"]),
                str(data.get("source", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CrossriskError(f"bad judge validation record ({exc})") from None


def rates_from_labels(
    judge: str, predicted: Sequence[bool], gold: Sequence[bool], *, source: str = ""
) -> JudgeErrorRates:
    """Counts of a judge's binary calls against human labels (True = the counted outcome)."""
    if len(predicted) != len(gold):
        raise ValueError("predicted and gold labels differ in length")
    pairs = list(zip(predicted, gold))
    return JudgeErrorRates(
        judge,
        sum(p and g for p, g in pairs),
        sum(g for _, g in pairs),
        sum((not p) and (not g) for p, g in pairs),
        sum(not g for _, g in pairs),
        source,
    )


def read_validation_file(path: Path) -> dict[str, JudgeErrorRates]:
    """A file `crossrisk judge --write-validation` wrote: one record, or a list of them, by judge name."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CrossriskError(f"{path}: cannot read a judge validation record ({exc})") from None
    records = data if isinstance(data, list) else [data]
    rates = [JudgeErrorRates.from_json(r) for r in records]
    return {r.judge: r for r in rates}


def rogan_gladen(q: np.ndarray | float, se: np.ndarray | float, sp: np.ndarray | float) -> np.ndarray:
    """True rate from an observed one, clipped to [0, 1] (sampling noise can push it past a bound)."""
    youden = np.maximum(np.asarray(se) + np.asarray(sp) - 1.0, MIN_YOUDEN)
    return np.clip((np.asarray(q) + np.asarray(sp) - 1.0) / youden, 0.0, 1.0)


@dataclass(frozen=True)
class CorrectedDelta:
    """Judge-corrected paired change (defended - base, outcome units) with its interval."""

    estimate: float
    low: float
    high: float
    base_rate: float
    defended_rate: float
    p_value: float  # two-sided, from the share of draws on the other side of 0
    confidence: float
    resamples: int


def corrected_delta(
    base: Sequence[float],
    defended: Sequence[float],
    rates: JudgeErrorRates,
    *,
    raw_interval: tuple[float, float] | None = None,
    clusters: Sequence[str] | None = None,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = 2000,
) -> CorrectedDelta:
    """Rogan-Gladen per arm; interval from paired (cluster) resampling x Se/Sp posterior draws,
    widened to contain `raw_interval` rescaled by the point correction (the gate's interval)."""
    a, b = np.asarray(base, dtype=np.float64), np.asarray(defended, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("corrected_delta needs two paired, non-empty outcome vectors")
    if not np.isin(np.concatenate([a, b]), (0.0, 1.0)).all():
        raise ValueError("judge correction applies to binary (0/1) judged outcomes only")
    if rates.youden < MIN_YOUDEN:
        raise ValueError(f"{rates.judge} is near chance (Se + Sp - 1 = {rates.youden:.3f}); no correction")
    keys = list(clusters) if clusters is not None else list(range(len(a)))
    index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    ids = np.array([index[k] for k in keys])
    counts = np.bincount(ids).astype(np.float64)
    sums_a, sums_b = np.bincount(ids, weights=a), np.bincount(ids, weights=b)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(counts), size=(resamples, len(counts)))
    n = counts[picks].sum(1)
    qa, qb = sums_a[picks].sum(1) / n, sums_b[picks].sum(1) / n
    se, sp = rates.draws(rng, resamples)
    draws = rogan_gladen(qb, se, sp) - rogan_gladen(qa, se, sp)
    base_rate = float(rogan_gladen(a.mean(), rates.sensitivity, rates.specificity))
    defended_rate = float(rogan_gladen(b.mean(), rates.sensitivity, rates.specificity))
    estimate = defended_rate - base_rate
    tail = (1.0 - confidence) / 2.0
    low, high = (float(v) for v in np.quantile(draws, [tail, 1.0 - tail]))
    if raw_interval is not None:
        scale = 1.0 / max(rates.youden, MIN_YOUDEN)
        low, high = min(low, raw_interval[0] * scale), max(high, raw_interval[1] * scale)
    low, high = max(min(low, estimate), -1.0), min(max(high, estimate), 1.0)
    p_value = float(min(1.0, 2.0 * min((draws <= 0).mean(), (draws >= 0).mean())))
    return CorrectedDelta(estimate, low, high, base_rate, defended_rate, p_value, confidence, resamples)
