"""Paired statistics for comparing two models on the same items.

Why paired: a defended model and its base answer the *same* items, and items differ far more
from each other than the two models do. Testing the per-item differences removes the item
variance that an unpaired comparison of two rates would leave in, so the same item count
detects much smaller effects (the argument of lm-evaluation-harness's significance module).

- binary outcomes: exact McNemar test on the discordant pairs (the only ones that carry
  information about the difference);
- continuous outcomes: a sign-flip randomisation test on the per-item differences;
- intervals for the mean difference: paired bootstrap (percentile), resampling whole clusters
  when items share a template or mutation, since such items are not independent;
- single rates: Wilson score intervals (sane at 0 and 1, unlike Wald);
- many comparisons (a whole conflict matrix): Benjamini-Hochberg false-discovery control.

Pure functions over numpy arrays, seeded by keyword, with frozen result types; bad input raises
`ValueError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000


def _as_pair(base: Sequence[float], other: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"paired outcomes need two 1-d sequences of equal length, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("paired outcomes are empty")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("paired outcomes contain NaN or infinity")
    return a, b


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _z(confidence: float) -> float:
    """Two-sided normal quantile without scipy (Acklam's rational approximation, |error| < 1e-9)."""
    p = 1.0 - (1.0 - confidence) / 2.0
    a = [-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00]
    b = [-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01]
    c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00]
    if p > 1 - 0.02425:
        q = math.sqrt(-2 * math.log(1 - p))
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (
        ((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    confidence: float

    def __post_init__(self) -> None:
        if not self.low <= self.estimate <= self.high:
            raise ValueError(f"interval {self.low}..{self.high} does not contain its estimate {self.estimate}")

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def wilson_interval(successes: int, n: int, *, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Wilson score interval for a single rate `successes / n`."""
    _check_confidence(confidence)
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes}/{n}")
    z = _z(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(p, max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)), confidence)


def mcnemar_exact(base: Sequence[float], other: Sequence[float]) -> float:
    """Two-sided exact McNemar p-value for paired binary (0/1) outcomes."""
    a, b = _as_pair(base, other)
    if not (np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all()):
        raise ValueError("McNemar needs binary (0/1) outcomes")
    up = int(((a == 0) & (b == 1)).sum())
    down = int(((a == 1) & (b == 0)).sum())
    n = up + down
    if n == 0:
        return 1.0
    k = min(up, down)
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    tail = math.fsum(math.exp(t) for t in log_terms)
    return min(1.0, 2.0 * tail)


def _cluster_index(n: int, clusters: Sequence[str] | None) -> list[np.ndarray]:
    if clusters is None:
        return [np.array([i]) for i in range(n)]
    if len(clusters) != n:
        raise ValueError(f"got {len(clusters)} cluster labels for {n} items")
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(clusters):
        groups.setdefault(str(label), []).append(i)
    if len(groups) < 2:
        raise ValueError("clustered resampling needs at least 2 clusters (one cluster carries no variance information)")
    return [np.array(g) for g in groups.values()]


def sign_flip_pvalue(
    base: Sequence[float], other: Sequence[float], *, seed: int = 0, resamples: int = DEFAULT_RESAMPLES,
    clusters: Sequence[str] | None = None,
) -> float:
    """Two-sided randomisation test of a zero mean difference: under the null each item's (or
    cluster's) difference is as likely to have either sign."""
    a, b = _as_pair(base, other)
    diff = b - a
    groups = _cluster_index(len(diff), clusters)
    sums = np.array([diff[g].sum() for g in groups])
    observed = abs(sums.sum())
    if observed == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    signs = rng.choice((-1.0, 1.0), size=(resamples, len(sums)))
    extreme = int((np.abs(signs @ sums) >= observed - 1e-12).sum())
    return (1 + extreme) / (1 + resamples)


def paired_bootstrap_interval(
    base: Sequence[float], other: Sequence[float], *, seed: int = 0, confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES, clusters: Sequence[str] | None = None,
) -> Interval:
    """Percentile interval for mean(other - base), resampling items (or whole clusters)."""
    _check_confidence(confidence)
    a, b = _as_pair(base, other)
    diff = b - a
    groups = _cluster_index(len(diff), clusters)
    sums = np.array([diff[g].sum() for g in groups])
    sizes = np.array([len(g) for g in groups], dtype=np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(groups), size=(resamples, len(groups)))
    means = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    alpha = (1 - confidence) / 2
    estimate = float(diff.mean())
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Interval(estimate, min(float(low), estimate), max(float(high), estimate), confidence)


@dataclass(frozen=True)
class PairedComparison:
    """`other` vs `base` on the same items: delta = mean(other) - mean(base) (higher = riskier)."""

    n: int
    base_mean: float
    other_mean: float
    delta: Interval
    p_value: float
    test: str

    @property
    def relative_change(self) -> float | None:
        """delta / base mean; None when the base mean is 0 (relative change explodes near zero)."""
        return None if self.base_mean == 0 else self.delta.estimate / self.base_mean


def compare_paired(
    base: Sequence[float], other: Sequence[float], *, seed: int = 0, confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES, clusters: Sequence[str] | None = None,
) -> PairedComparison:
    """Delta with a bootstrap interval and a p-value: exact McNemar for unclustered binary
    outcomes, a (cluster) sign-flip test otherwise."""
    a, b = _as_pair(base, other)
    binary = np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all()
    if binary and clusters is None:
        p, test = mcnemar_exact(a, b), "mcnemar-exact"
    else:
        p = sign_flip_pvalue(a, b, seed=seed, resamples=resamples, clusters=clusters)
        test = "sign-flip" + ("-clustered" if clusters is not None else "")
    interval = paired_bootstrap_interval(a, b, seed=seed, confidence=confidence, resamples=resamples, clusters=clusters)
    return PairedComparison(len(a), float(a.mean()), float(b.mean()), interval, p, test)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or ((p < 0) | (p > 1)).any() or np.isnan(p).any():
        raise ValueError("p-values must be a 1-d sequence in [0, 1]")
    if p.size == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()
