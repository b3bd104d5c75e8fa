"""Paired statistics for comparing two models on the same items.

Why paired: a defended model and its base answer the *same* items, and items differ far more
from each other than the two models do. Testing the per-item differences removes the item
variance that an unpaired comparison of two rates would leave in, so the same item count
detects much smaller effects (the argument of lm-evaluation-harness's significance module).

- binary outcomes: exact McNemar test on the discordant pairs (the only ones that carry
  information about the difference), and Tango's score interval for the difference of paired
  proportions (it inverts the score form of McNemar's test, so it is never narrower than the
  data allow at small n; the percentile bootstrap undercovers there);
- continuous outcomes: a sign-flip randomisation test on the per-item differences;
- clustered outcomes (items sharing a template or category are not independent): a
  cluster-robust t interval on the per-cluster sums (G - 1 degrees of freedom) and a cluster
  sign-flip test; the paired bootstrap (percentile) stays for reference;
- two AUCs of attacks scored on the same members and non-members: DeLong's paired test;
- power: the minimum detectable effect of a paired comparison and the items a margin needs;
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
    """Two-sided normal quantile (Acklam's rational approximation, |error| < 1e-9). Kept rather than
    scipy.stats.norm.ppf: the two differ around the 9th digit, which would change every interval,
    minimum detectable effect and item count stored in earlier results.json files."""
    p = 1.0 - (1.0 - confidence) / 2.0
    a = [
        -3.969683028665376e01,
        2.209460984245205e02,
        -2.759285104469687e02,
        1.383577518672690e02,
        -3.066479806614716e01,
        2.506628277459239e00,
    ]
    b = [
        -5.447609879822406e01,
        1.615858368580409e02,
        -1.556989798598866e02,
        6.680131188771972e01,
        -1.328068155288572e01,
    ]
    c = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e00,
        -2.549732539343734e00,
        4.374664141464968e00,
        2.938163982698783e00,
    ]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00]
    if p > 1 - 0.02425:
        q = math.sqrt(-2 * math.log(1 - p))
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    q = p - 0.5
    r = q * q
    return (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )


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
    log_terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)
    ]
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
    base: Sequence[float],
    other: Sequence[float],
    *,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
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
    base: Sequence[float],
    other: Sequence[float],
    *,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    clusters: Sequence[str] | None = None,
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


def _normal_sf(z: float) -> float:
    """Upper tail of the standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _tango_z(up: int, down: int, n: int, delta: float) -> float:
    """Tango's (1998) score statistic for H0: p_up - p_down = delta, with p_down at its
    maximum-likelihood value under the null. At delta = 0 it is McNemar's (b - c) / sqrt(b + c)."""
    a_ = 2.0 * n
    b_ = -up - down + (2.0 * n - up + down) * delta
    c_ = -down * delta * (1.0 - delta)
    p_down = (math.sqrt(max(b_ * b_ - 4.0 * a_ * c_, 0.0)) - b_) / (2.0 * a_)
    variance = n * (2.0 * p_down + delta * (1.0 - delta))
    numerator = up - down - n * delta
    if variance <= 0.0:
        return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)
    return numerator / math.sqrt(variance)


def tango_interval(up: int, down: int, n: int, *, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Tango's score interval for the difference of paired proportions, (up - down) / n, where
    `up` items went 0 -> 1 and `down` items 1 -> 0: every delta that the score test does not
    reject. Good coverage down to small n (Fagerland, Lydersen & Laake 2014), unlike the
    percentile bootstrap, which at n = 12 cannot put any mass outside the observed pairs."""
    _check_confidence(confidence)
    if n <= 0 or up < 0 or down < 0 or up + down > n:
        raise ValueError(f"need 0 <= up + down <= n and n > 0, got up={up}, down={down}, n={n}")
    z = _z(confidence)
    estimate = (up - down) / n

    def bound(lo: float, hi: float, upper: bool) -> float:
        # the statistic falls as delta rises; find where it crosses -z (upper) or +z (lower)
        target = -z if upper else z
        for _ in range(80):
            mid = (lo + hi) / 2.0
            if _tango_z(up, down, n, mid) > target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2.0

    low = -1.0 if _tango_z(up, down, n, -1.0 + 1e-12) <= z else bound(-1.0, estimate, upper=False)
    high = 1.0 if _tango_z(up, down, n, 1.0 - 1e-12) >= -z else bound(estimate, 1.0, upper=True)
    return Interval(estimate, min(low, estimate), max(high, estimate), confidence)


def _binary(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all())


def paired_binary_interval(
    base: Sequence[float], other: Sequence[float], *, confidence: float = DEFAULT_CONFIDENCE
) -> Interval:
    """Tango's interval for mean(other) - mean(base) on paired 0/1 outcomes."""
    a, b = _as_pair(base, other)
    if not _binary(a, b):
        raise ValueError("a paired-proportion interval needs binary (0/1) outcomes")
    return tango_interval(
        int(((a == 0) & (b == 1)).sum()), int(((a == 1) & (b == 0)).sum()), len(a), confidence=confidence
    )


def t_quantile(confidence: float, df: int) -> float:
    """Two-sided Student-t quantile: P(|T_df| <= t) = confidence. Exact for integer df through
    the finite series of Abramowitz & Stegun 26.7.3-4, inverted by bisection. Agrees with
    scipy.stats.t.ppf to ~1e-13 (tests/test_stats.py), not to the last bit, so it is kept: the
    clustered intervals of earlier results.json files stay reproducible digit for digit."""
    _check_confidence(confidence)
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")

    def central(t: float) -> float:
        theta = math.atan(t / math.sqrt(df))
        s, c = math.sin(theta), math.cos(theta)
        if df % 2 == 1:
            total, term = 0.0, c
            for k in range(1, (df - 1) // 2 + 1):
                total += term
                term *= c * c * (2 * k) / (2 * k + 1)
            return (2.0 / math.pi) * (theta + (s * total if df > 1 else 0.0))
        total, term = 0.0, 1.0
        for k in range(1, df // 2 + 1):
            total += term
            term *= c * c * (2 * k - 1) / (2 * k)
        return s * total

    lo, hi = 0.0, 1.0
    while central(hi) < confidence:
        hi *= 2.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if central(mid) < confidence else (lo, mid)
    return (lo + hi) / 2.0


def _cluster_robust_se(diff: np.ndarray, clusters: Sequence[str] | None) -> tuple[float, int]:
    """Cluster-robust (ratio-estimator) standard error of mean(diff), and the number of clusters
    G (items, when unclustered); the error is 0 when G < 2."""
    groups = _cluster_index(len(diff), clusters)
    sums = np.array([diff[g].sum() for g in groups])
    sizes = np.array([len(g) for g in groups], dtype=np.float64)
    count = len(groups)
    if count < 2:
        return 0.0, count
    residuals = (sums - diff.mean() * sizes) / sizes.mean()
    return float(np.sqrt((residuals**2).sum() / (count * (count - 1)))), count


def paired_t_interval(
    base: Sequence[float],
    other: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    clusters: Sequence[str] | None = None,
) -> Interval:
    """Interval for mean(other - base) from a t distribution with G - 1 degrees of freedom, G the
    number of clusters (items, when unclustered); the cluster-robust (ratio-estimator) standard
    error lets items of one cluster be correlated. Measured to cover better than the percentile
    bootstrap at the profiles' item and cluster counts (tests/test_stats.py)."""
    _check_confidence(confidence)
    a, b = _as_pair(base, other)
    diff = b - a
    estimate = float(diff.mean())
    se, g = _cluster_robust_se(diff, clusters)
    if g < 2:
        raise ValueError("a t interval needs at least 2 items (or clusters)")
    half = t_quantile(confidence, g - 1) * se
    return Interval(
        estimate, min(estimate, max(-1.0, estimate - half)), max(estimate, min(1.0, estimate + half)), confidence
    )


def paired_standard_error(
    base: Sequence[float], other: Sequence[float], *, clusters: Sequence[str] | None = None
) -> float:
    """Standard error of mean(other - base) for power planning: from the discordance for
    unclustered binary outcomes (`paired_binary_sd`), cluster-robust otherwise."""
    a, b = _as_pair(base, other)
    if clusters is None and _binary(a, b):
        return paired_binary_sd(a, b) / math.sqrt(len(a))
    se, g = _cluster_robust_se(b - a, clusters)
    return se if g >= 2 else 0.0


@dataclass(frozen=True)
class AucComparison:
    """Two attacks' AUCs on the same members and non-members, and DeLong's paired test of the
    difference of their distances from chance, |AUC - 0.5| (so an attack pushed well below 0.5,
    an over-unlearned model whose members now look *less* likely, is not scored as private)."""

    base_auc: float
    other_auc: float
    delta: Interval  # distance(other) - distance(base)
    p_value: float
    members: int
    non_members: int
    se: float

    @property
    def base_distance(self) -> float:
        return abs(self.base_auc - 0.5)

    @property
    def other_distance(self) -> float:
        return abs(self.other_auc - 0.5)


def delong_components(positive: np.ndarray, negative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: per member, the share of non-members it outranks; per
    non-member, the share of members that outrank it (ties count half)."""
    wins = (positive[:, None] > negative[None, :]).astype(np.float64) + 0.5 * (positive[:, None] == negative[None, :])
    return wins.mean(axis=1), wins.mean(axis=0)


def delong_paired(
    base_positive: Sequence[float],
    base_negative: Sequence[float],
    other_positive: Sequence[float],
    other_negative: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> AucComparison:
    """DeLong, DeLong & Clarke-Pearson (1988) paired comparison of two AUCs scored on the same
    positives and negatives (given in the same order for both), on the distance from chance
    (delta method: each AUC's components are multiplied by the sign of AUC - 0.5)."""
    _check_confidence(confidence)
    bp, bn = np.asarray(base_positive, dtype=np.float64), np.asarray(base_negative, dtype=np.float64)
    op, on = np.asarray(other_positive, dtype=np.float64), np.asarray(other_negative, dtype=np.float64)
    if bp.shape != op.shape or bn.shape != on.shape or bp.ndim != 1 or bn.ndim != 1:
        raise ValueError("both attacks must score the same positives and negatives")
    m, k = len(bp), len(bn)
    if m < 2 or k < 2:
        raise ValueError(f"DeLong's test needs at least 2 members and 2 non-members, got {m} and {k}")
    b10, b01 = delong_components(bp, bn)
    o10, o01 = delong_components(op, on)
    base_auc, other_auc = float(b10.mean()), float(o10.mean())
    sb = 1.0 if base_auc >= 0.5 else -1.0
    so = 1.0 if other_auc >= 0.5 else -1.0
    d10, d01 = so * o10 - sb * b10, so * o01 - sb * b01
    variance = float(d10.var(ddof=1) / m + d01.var(ddof=1) / k)
    estimate = abs(other_auc - 0.5) - abs(base_auc - 0.5)
    se = math.sqrt(max(variance, 0.0))
    changed = not (np.array_equal(bp, op) and np.array_equal(bn, on))
    if se == 0.0 and changed:
        # both attacks separate perfectly (or not at all), so every component is constant and
        # DeLong's variance is 0: a degenerate certainty. Fall back to Wilson intervals of each
        # AUC on min(members, non-members) records, a floor that shrinks as records grow.
        n_eff = min(m, k)
        half = [wilson_interval(round(a * n_eff), n_eff, confidence=confidence) for a in (base_auc, other_auc)]
        se = math.sqrt(sum(((h.high - h.low) / 2.0 / _z(confidence)) ** 2 for h in half))
    if se == 0.0:
        p = 1.0 if estimate == 0 else 0.0
    else:
        p = min(1.0, 2.0 * _normal_sf(abs(estimate) / se))
    half = _z(confidence) * se
    return AucComparison(
        base_auc, other_auc, Interval(estimate, estimate - half, estimate + half, confidence), p, m, k, se
    )


def _power_z(confidence: float, power: float) -> float:
    """z_{1-alpha/2} + z_power: the distance, in standard errors, of a difference detected with `power`."""
    return _z(confidence) + _z(2.0 * power - 1.0)


def minimum_detectable_effect(
    n: int, sd: float, *, confidence: float = DEFAULT_CONFIDENCE, power: float = 0.8
) -> float:
    """The smallest true mean difference a two-sided paired test at `confidence` detects with
    probability `power` on `n` items whose per-item differences have standard deviation `sd`
    (normal approximation: (z_{1-alpha/2} + z_power) * sd / sqrt(n))."""
    _check_confidence(confidence)
    if n < 1 or sd < 0 or not 0.0 < power < 1.0:
        raise ValueError(f"need n >= 1, sd >= 0 and power in (0, 1), got n={n}, sd={sd}, power={power}")
    return _power_z(confidence, power) * sd / math.sqrt(n)


def items_needed(sd: float, margin: float, *, confidence: float = DEFAULT_CONFIDENCE, power: float = 0.8) -> int:
    """Items for which a true difference `margin` away from the decision point is decided
    (the interval clears it) with probability `power`; the inverse of `minimum_detectable_effect`."""
    _check_confidence(confidence)
    if margin <= 0 or sd < 0:
        raise ValueError(f"need margin > 0 and sd >= 0, got margin={margin}, sd={sd}")
    return max(2, math.ceil((_power_z(confidence, power) * sd / margin) ** 2))


def paired_binary_sd(base: Sequence[float], other: Sequence[float]) -> float:
    """Per-item standard deviation of the paired difference of 0/1 outcomes, from the observed
    discordance, with one pseudo-discordant pair so that a run with no discordant pairs still
    plans for some (an item count can never be sized from a variance of exactly zero)."""
    a, b = _as_pair(base, other)
    n = len(a)
    up = float(((a == 0) & (b == 1)).sum())
    down = float(((a == 1) & (b == 0)).sum())
    discordance = (up + down + 1.0) / (n + 1.0)
    delta = (up - down) / n
    return math.sqrt(max(discordance - delta * delta, 1.0 / (n + 1.0)))


@dataclass(frozen=True)
class PairedComparison:
    """`other` vs `base` on the same items: delta = mean(other) - mean(base) (higher = riskier).
    `se` is the standard error behind the power figures (minimum detectable effect, items needed)."""

    n: int
    base_mean: float
    other_mean: float
    delta: Interval
    p_value: float
    test: str
    interval: str = "percentile-bootstrap"
    se: float = 0.0

    @property
    def relative_change(self) -> float | None:
        """delta / base mean; None when the base mean is 0 (relative change explodes near zero)."""
        return None if self.base_mean == 0 else self.delta.estimate / self.base_mean

    def mde(self, *, power: float = 0.8) -> float:
        """Minimum detectable effect (outcome units) at this item count and observed variance."""
        return _power_z(self.delta.confidence, power) * self.se

    def items_to_decide(self, margin: float, *, power: float = 0.8) -> int | None:
        """Items for which a true difference `margin` away from a decision point would be decided
        with probability `power`; None when the variance is unknown (zero)."""
        if self.se <= 0 or margin <= 0:
            return None
        return items_needed(self.se * math.sqrt(self.n), margin, confidence=self.delta.confidence, power=power)


def paired_interval(
    base: Sequence[float],
    other: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    clusters: Sequence[str] | None = None,
) -> tuple[Interval, str]:
    """The interval of the change and its method, as `compare_paired` reports them, without the
    test: a decision interval at a family-wise level needs no second p-value (whose sign-flip
    resampling is the costly part of a comparison)."""
    a, b = _as_pair(base, other)
    if _binary(a, b) and clusters is None:
        return paired_binary_interval(a, b, confidence=confidence), "tango-score"
    if _binary(a, b):
        # clustered binary outcomes: correlation within clusters can only widen what independent
        # items allow, so take the hull of Tango's interval and the cluster-robust t interval
        tango = paired_binary_interval(a, b, confidence=confidence)
        t = paired_t_interval(a, b, confidence=confidence, clusters=clusters)
        return Interval(tango.estimate, min(tango.low, t.low), max(tango.high, t.high), confidence), (
            "tango+t-cluster-robust"
        )
    if len(a) < 2:
        return Interval(float((b - a).mean()), -1.0, 1.0, confidence), "none (one item)"
    method = "t-cluster-robust" if clusters is not None else "t"
    return paired_t_interval(a, b, confidence=confidence, clusters=clusters), method


def compare_paired(
    base: Sequence[float],
    other: Sequence[float],
    *,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    clusters: Sequence[str] | None = None,
) -> PairedComparison:
    """Delta with an interval (`paired_interval`) and a p-value. Unclustered binary outcomes:
    exact McNemar. Clustered binary outcomes: the larger of McNemar and the cluster sign-flip
    test (a cluster with no variation must not look like certainty). Otherwise: a (cluster)
    sign-flip test. The percentile bootstrap is not used for gating: it undercovers at these sizes."""
    a, b = _as_pair(base, other)
    interval, method = paired_interval(a, b, confidence=confidence, clusters=clusters)
    if _binary(a, b) and clusters is None:
        p, test = mcnemar_exact(a, b), "mcnemar-exact"
    elif _binary(a, b):
        p = max(mcnemar_exact(a, b), sign_flip_pvalue(a, b, seed=seed, resamples=resamples, clusters=clusters))
        test = "mcnemar-exact+sign-flip-clustered"
        se = max(paired_standard_error(a, b), paired_standard_error(a, b, clusters=clusters))
        return PairedComparison(len(a), float(a.mean()), float(b.mean()), interval, p, test, method, se)
    else:
        p = sign_flip_pvalue(a, b, seed=seed, resamples=resamples, clusters=clusters)
        test = "sign-flip" + ("-clustered" if clusters is not None else "")
    se = paired_standard_error(a, b, clusters=clusters)
    return PairedComparison(len(a), float(a.mean()), float(b.mean()), interval, p, test, method, se)


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
