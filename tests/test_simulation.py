"""The gate's error rates over whole simulated matrices (crossrisk_bench.verdict.simulation), seeded and small."""

from __future__ import annotations

import numpy as np

from crossrisk_bench.config.policy import Policy
from crossrisk_bench.risks import Risk
from crossrisk_bench.verdict.simulation import CellShape, MatrixCell, draw_cell, simulate_cell, simulate_matrices


def _shape(task="pii_leakage", risk=Risk.PRIVACY, defense=Risk.SAFETY, n=24, rate=0.3, churn=0.3, groups=None):
    clusters = tuple(f"c{i % groups}" for i in range(n)) if groups else tuple(f"i{i}" for i in range(n))
    return CellShape(task, risk, defense, clusters, groups is not None, rate, churn)


def test_draws_carry_the_planted_change_and_the_churn() -> None:
    rng = np.random.default_rng(0)
    shape = _shape(n=400, rate=0.4, churn=0.2, groups=40)
    draws = [draw_cell(shape, 0.10, rng) for _ in range(200)]
    observed = np.mean([(d.defended - d.base).mean() for d in draws])
    churn = np.mean([(d.defended != d.base).mean() for d in draws])
    assert abs(observed - 0.10) < 0.01 and abs(np.mean([d.true_delta for d in draws]) - 0.10) < 0.01
    assert 0.26 < churn < 0.34  # 0.2 both ways, and the planted 0.1 on top
    # every draw differs: the simulation is not one table repeated
    assert len({d.defended.tobytes() for d in draws}) == 200


def test_background_churn_never_moves_the_rate_even_near_a_bound() -> None:
    rng = np.random.default_rng(1)
    for rate in (0.02, 0.5, 0.95):
        shape = _shape(n=300, rate=rate, churn=0.6, groups=30)
        draws = [draw_cell(shape, 0.0, rng) for _ in range(100)]
        assert max(abs(d.true_delta) for d in draws) < 1e-3  # a tenth of a point (the 1e-3 rate floors)
        assert abs(np.mean([(d.defended - d.base).mean() for d in draws])) < 0.01


def test_null_matrices_rarely_fail_where_per_cell_decisions_often_did() -> None:
    """A matrix of 30 cells at 24 items in which nothing truly changes but items churn: decided
    per cell (the old rule), many matrices hold a failed cell; decided family-wise, few do."""
    cells = [MatrixCell(f"d{n}", _shape(), "tolerance") for n in range(20)]
    cells += [MatrixCell(f"e{n}", _shape("misuse", Risk.SAFETY, Risk.SAFETY), "efficacy") for n in range(10)]
    policy = Policy()
    per_cell = simulate_matrices(cells, policy=policy, runs=40, seed=3, families={"tolerance": 1, "efficacy": 1})
    family_wise = simulate_matrices(cells, policy=policy, runs=40, seed=3)
    assert per_cell["any_fail"] >= 0.2
    assert family_wise["any_fail"] <= 0.05 and family_wise["any_false_efficacy"] <= 0.05


def test_a_large_rise_is_still_caught_in_a_family() -> None:
    shape = _shape(n=400, rate=0.3, churn=0.3)
    figures = simulate_cell(shape, 0.25, policy=Policy(), family_size=50, runs=30, seed=1)
    assert figures["fail"] >= 0.9 and abs(figures["true_delta_pts"] - 25) < 1
