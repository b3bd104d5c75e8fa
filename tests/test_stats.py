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


# -- intervals that agree with the tests, checked against references and by simulation -----------

from crossrisk_bench.stats import (  # noqa: E402
    delong_paired,
    items_needed,
    minimum_detectable_effect,
    paired_t_interval,
    t_quantile,
    tango_interval,
)


def test_t_quantile_matches_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 4, 7, 11, 30, 199):
        for confidence in (0.8, 0.95, 0.99):
            assert t_quantile(confidence, df) == pytest.approx(scipy_stats.t.ppf(0.5 + confidence / 2, df), rel=1e-7)


def test_tango_interval_inverts_mcnemars_score_test() -> None:
    # at delta = 0 Tango's statistic is McNemar's (b - c) / sqrt(b + c): the interval excludes 0
    # exactly when that test rejects, and the exact test is never more willing to reject
    for up in range(0, 13):
        for down in range(0, 13 - up):
            ci = tango_interval(up, down, 12)
            score_rejects = up + down > 0 and abs(up - down) / math.sqrt(up + down) > _z(0.95)
            assert ci.excludes_zero == score_rejects, (up, down)
            assert ci.low <= (up - down) / 12 <= ci.high and -1 <= ci.low and ci.high <= 1
    ci = tango_interval(4, 0, 12)  # the case: exact p = 0.125
    assert 0 < ci.low < 0.05  # barely excludes 0 (score test p = 0.046); the gate also asks the exact test


@pytest.mark.parametrize("n", [12, 24, 64, 200])
def test_tango_coverage_is_near_nominal(n: int) -> None:
    """Coverage over a grid of discordance patterns: never more than 2 pts below 95%. At small n
    and rare discordance it over-covers (a discrete statistic cannot hit 95% exactly)."""
    rng = np.random.default_rng(n)
    grid = [(0.1, 0.05), (0.2, 0.1), (0.3, 0.3), (0.1, 0.1), (0.4, 0.1), (0.15, 0.05)]
    coverages = []
    for p_up, p_down in grid:
        draws = rng.multinomial(n, [p_up, p_down, 1 - p_up - p_down], size=1500)
        hits = [
            tango_interval(int(u), int(d), n).low <= p_up - p_down <= tango_interval(int(u), int(d), n).high
            for u, d, _ in draws
        ]
        coverages.append(np.mean(hits))
    assert min(coverages) >= 0.93, coverages
    assert np.mean(coverages) <= 0.95 + (0.04 if n <= 24 else 0.02), coverages


def test_clustered_t_interval_covers_where_the_percentile_bootstrap_does_not() -> None:
    """Six clusters of two items with a shared cluster effect (the quick profile's shape): the
    cluster-robust t interval holds its level; the percentile bootstrap covers far less."""
    rng = np.random.default_rng(7)
    true = None
    big_base = rng.beta(2, 5, size=400_000)
    big_shift = rng.normal(0.05, 0.1, size=400_000)
    true = float(np.mean(np.clip(big_base + big_shift, 0, 1) - big_base))
    t_hits = boot_hits = 0
    runs = 300
    for _ in range(runs):
        clusters = np.repeat(np.arange(6), 2)
        p_base = rng.beta(2, 5, size=6)[clusters]
        p_other = np.clip(p_base + rng.normal(0.05, 0.1, size=6)[clusters], 0, 1)
        base = (rng.random(12) < p_base).astype(float)
        other = (rng.random(12) < p_other).astype(float)
        labels = [str(c) for c in clusters]
        t = paired_t_interval(base, other, clusters=labels)
        b = paired_bootstrap_interval(base, other, clusters=labels, resamples=500)
        t_hits += t.low <= true <= t.high
        boot_hits += b.low <= true <= b.high
    assert t_hits / runs >= 0.91 and boot_hits / runs < 0.85


def test_delong_agrees_with_a_joint_bootstrap_and_is_uniform_under_the_null() -> None:
    rng = np.random.default_rng(3)
    members, non_members = 40, 200
    base_pos, base_neg = rng.normal(1.0, 1, members), rng.normal(0, 1, non_members)
    other_pos = base_pos + rng.normal(-0.5, 0.5, members)  # a defense that lowers member scores
    other_neg = base_neg + rng.normal(0, 0.5, non_members)
    result = delong_paired(base_pos, base_neg, other_pos, other_neg)
    from crossrisk_bench.stats import delong_components

    assert result.base_auc == pytest.approx(delong_components(base_pos, base_neg)[0].mean())
    boot = []
    for _ in range(600):  # members and non-members resampled jointly for both attacks
        i, j = rng.integers(0, members, members), rng.integers(0, non_members, non_members)
        boot.append(
            abs(delong_components(other_pos[i], other_neg[j])[0].mean() - 0.5)
            - abs(delong_components(base_pos[i], base_neg[j])[0].mean() - 0.5)
        )
    assert result.se == pytest.approx(float(np.std(boot)), rel=0.2)
    rejections = 0
    for _ in range(400):  # two exchangeable attacks on a shared latent score: about 5% rejections
        pos, neg = rng.normal(0.8, 1, members), rng.normal(0, 1, non_members)
        r = delong_paired(
            pos + rng.normal(0, 0.7, members),
            neg + rng.normal(0, 0.7, non_members),
            pos + rng.normal(0, 0.7, members),
            neg + rng.normal(0, 0.7, non_members),
        )
        rejections += r.p_value < 0.05
    assert 0.02 <= rejections / 400 <= 0.085


def test_over_unlearning_is_not_scored_as_private() -> None:
    rng = np.random.default_rng(5)
    pos, neg = rng.normal(1, 1, 60), rng.normal(0, 1, 300)
    flipped = delong_paired(pos, neg, -pos, neg)  # members now look far *less* likely: AUC well below 0.5
    assert flipped.other_auc < 0.35 and abs(flipped.delta.estimate) < 0.05 and flipped.p_value > 0.05


def test_minimum_detectable_effect_and_items_needed_are_inverse() -> None:
    mde = minimum_detectable_effect(100, 0.5)
    assert mde == pytest.approx((1.959964 + 0.841621) * 0.05, rel=1e-5)
    assert items_needed(0.5, mde) in (100, 101)
    comparison = compare_paired([0] * 90 + [1] * 10, [1] * 10 + [0] * 80 + [1] * 10)
    assert comparison.mde() > 0 and comparison.items_to_decide(0.05) > 100


def test_delong_does_not_claim_certainty_when_both_attacks_separate_perfectly() -> None:
    pos, neg = np.arange(10.0, 16.0), np.arange(0.0, 6.0)  # 6 + 6 records, AUC 1.0 for both attacks
    small = delong_paired(pos, neg, pos + 1.0, neg - 1.0)
    assert small.delta.estimate == 0 and small.delta.high > 0.2  # 6 + 6 records cannot show a 5-pt bound
    neg720 = np.arange(0.0, 720.0) / 4.0
    big = delong_paired(np.arange(500.0, 660.0), neg720, np.arange(800.0, 960.0), neg720 - 1.0)
    assert 0 < big.delta.high < 0.05  # 160 members: the floor shrinks
    same = delong_paired(pos, neg, pos, neg)
    assert same.se == 0 and same.delta.high == 0  # identical scores: no change, and none is claimed


@pytest.mark.parametrize(("clusters", "size"), [(63, 4), (44, 5)])
def test_clustered_inference_holds_its_level_at_the_release_shapes(clusters: int, size: int) -> None:
    """The release banks' shapes (the fairness tasks: 63 stereotypes asked 3-5 ways; jailbreak: 44
    categories of about 5 items), a shared effect per cluster on the base rate and on the shift:
    the cluster-robust t interval covers the true difference within 2.5 pts of 95% (seeded, 400
    runs), and the sign-flip test rejects at most 7% of A/A pairs at the 5% level."""
    rng = np.random.default_rng(11)
    big_base = rng.beta(2, 3, size=400_000)
    true = float(np.mean(np.clip(big_base + rng.normal(0.05, 0.15, size=400_000), 0, 1) - big_base))
    hits = rejections = 0
    runs = 400
    labels = [str(c) for c in np.repeat(np.arange(clusters), size)]
    for _ in range(runs):
        p_base = np.repeat(rng.beta(2, 3, size=clusters), size)
        p_other = np.clip(p_base + np.repeat(rng.normal(0.05, 0.15, size=clusters), size), 0, 1)
        base = (rng.random(len(labels)) < p_base).astype(float)
        other = (rng.random(len(labels)) < p_other).astype(float)
        t = paired_t_interval(base, other, clusters=labels)
        hits += t.low <= true <= t.high
        again = (rng.random(len(labels)) < p_base).astype(float)  # the same model, answered again
        rejections += compare_paired(base, again, clusters=labels, resamples=1000).p_value < 0.05
    assert abs(hits / runs - 0.95) <= 0.025 and rejections / runs <= 0.07
