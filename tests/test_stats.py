"""Paired statistics: known values, symmetry, coverage near nominal, uniform p-values under the null."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossrisk_bench.stats import (
    _z,
    benjamini_hochberg,
    compare_paired,
    mcnemar_exact,
    paired_bootstrap_interval,
    sign_flip_pvalue,
    wilson_interval,
)


def test_normal_quantile() -> None:
    assert _z(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert _z(0.99) == pytest.approx(2.575829, abs=1e-6)
    assert _z(0.999) == pytest.approx(3.290527, abs=1e-6)


def test_wilson_known_values_and_edges() -> None:
    ci = wilson_interval(8, 10)
    assert (ci.low, ci.high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    zero = wilson_interval(0, 20)
    assert zero.low == 0.0 and 0 < zero.high < 0.2
    assert wilson_interval(20, 20).high == 1.0
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_mcnemar_exact_known_value() -> None:
    base = [0] * 10 + [1] * 2 + [1] * 5
    other = [1] * 10 + [0] * 2 + [1] * 5  # 10 up, 2 down
    expected = 2 * sum(math.comb(12, i) for i in range(3)) / 2**12
    assert mcnemar_exact(base, other) == pytest.approx(expected)
    assert mcnemar_exact([1, 0], [1, 0]) == 1.0
    with pytest.raises(ValueError, match="binary"):
        mcnemar_exact([0.5], [1])


binary = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=60)


@given(binary)
@settings(max_examples=60, deadline=None)
def test_swapping_models_negates_delta_and_keeps_p(pairs) -> None:
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    ab, ba = compare_paired(a, b, resamples=400), compare_paired(b, a, resamples=400)
    assert ab.delta.estimate == pytest.approx(-ba.delta.estimate)
    assert ab.p_value == pytest.approx(ba.p_value)
    assert 0.0 <= ab.p_value <= 1.0
    assert ab.delta.low <= ab.delta.estimate <= ab.delta.high


@given(st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=40), st.integers(0, 5))
@settings(max_examples=40, deadline=None)
def test_bootstrap_is_seeded_and_contains_the_estimate(diffs, seed) -> None:
    base = np.zeros(len(diffs))
    first = paired_bootstrap_interval(base, diffs, seed=seed, resamples=300)
    again = paired_bootstrap_interval(base, diffs, seed=seed, resamples=300)
    assert first == again and first.low <= first.estimate <= first.high


def test_identical_models_have_no_effect() -> None:
    outcomes = [0, 1, 1, 0, 1] * 10
    result = compare_paired(outcomes, outcomes)
    assert result.delta.estimate == 0 and result.p_value == 1.0 and not result.delta.excludes_zero
    assert result.relative_change == 0


def test_relative_change_is_none_at_zero_base() -> None:
    assert compare_paired([0, 0, 0], [1, 0, 0]).relative_change is None


def test_bootstrap_coverage_is_near_nominal() -> None:
    """Simulated paired binary data with a known effect: the 95% interval covers it ~95% of the time."""
    rng = np.random.default_rng(1)
    true_delta, n, runs = 0.10, 200, 300
    covered = 0
    for run in range(runs):
        base = rng.random(n) < 0.30
        # half the items keep the base outcome (pairing), half are redrawn at 0.50: mean 0.40
        other = np.where(rng.random(n) < 0.5, base, rng.random(n) < 0.30 + 2 * true_delta)
        ci = paired_bootstrap_interval(base.astype(float), other.astype(float), seed=run, resamples=600)
        covered += ci.low <= true_delta <= ci.high
    assert 0.90 <= covered / runs <= 0.99


def test_pvalues_are_uniform_under_the_null() -> None:
    rng = np.random.default_rng(2)
    binary_p, continuous_p = [], []
    for run in range(300):
        base = (rng.random(80) < 0.4).astype(float)
        other = (rng.random(80) < 0.4).astype(float)
        binary_p.append(compare_paired(base, other).p_value)
        x = rng.normal(size=60)
        continuous_p.append(sign_flip_pvalue(x, x + rng.normal(size=60), seed=run, resamples=500))
    for ps in (np.array(binary_p), np.array(continuous_p)):
        assert (ps < 0.05).mean() <= 0.08  # exact McNemar is conservative; never anti-conservative
        assert 0.35 <= (ps < 0.5).mean() <= 0.60


def test_clustered_intervals_are_wider_when_clusters_move_together() -> None:
    rng = np.random.default_rng(3)
    cluster_effect = np.repeat(rng.normal(0, 1, size=10), 10)
    diffs = cluster_effect + rng.normal(0, 0.2, size=100)
    labels = [str(i // 10) for i in range(100)]
    plain = paired_bootstrap_interval(np.zeros(100), diffs, seed=0)
    clustered = paired_bootstrap_interval(np.zeros(100), diffs, seed=0, clusters=labels)
    assert (clustered.high - clustered.low) > 2 * (plain.high - plain.low)
    assert compare_paired(np.zeros(100), diffs, clusters=labels).test == "sign-flip-clustered"


def test_benjamini_hochberg() -> None:
    # sorted 0.01, 0.03, 0.04, 0.5 -> p * m / rank = 0.04, 0.06, 0.0533, 0.5 -> running minimum from the top
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert benjamini_hochberg([]) == []
    with pytest.raises(ValueError):
        benjamini_hochberg([1.5])


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="equal length"):
        compare_paired([1, 0], [1])
    with pytest.raises(ValueError, match="empty"):
        compare_paired([], [])
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap_interval([0], [1], confidence=1.5)
    with pytest.raises(ValueError, match="cluster labels"):
        compare_paired([0, 1], [1, 1], clusters=["a"])


def test_one_cluster_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 clusters"):
        paired_bootstrap_interval([0, 0, 0], [1, 0, 1], clusters=["a", "a", "a"])
