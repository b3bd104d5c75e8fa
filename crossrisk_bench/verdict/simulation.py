"""The gate's error rates by simulation with a known truth: what users act on, under realistic noise.

A check run on one fixed table cannot fail, so every simulated cell is drawn at random:

- base outcomes: per cluster a base rate drawn around the task's measured rate (Beta, mean p,
  concentration `CONCENTRATION`), per item a Bernoulli draw: clusters differ as real ones do;
- defended outcomes: each item flips with a probability that depends on its base outcome: a
  share `discordance` of items changes in balance both ways (the background churn a real defense
  causes even where it does nothing to the rate; capped where a cluster near 0 or 1 leaves one
  direction no room, so that it never moves the rate), and on top of it the rate moves by
  `delta`; the flip rates of each cluster are scaled by a factor with mean 1 (Gamma, coefficient
  of variation `HETEROGENEITY`), so changes concentrate in some clusters as under a real defense.

A cell's true change is the expectation of that process over both arms (after clipping the
flip probabilities at 1, which a saturated base forces), so a "pass" or "fail" can be scored as
right or wrong.
Pure functions of a seeded generator; the figures live in docs/statistics.md and the
calibration benchmark (`benchmarks/test_calibration.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossrisk_bench.config.policy import Policy
from crossrisk_bench.results import VERDICTS, Gate
from crossrisk_bench.risks import Risk
from crossrisk_bench.verdict.effects import POINTS, assess

CONCENTRATION = 8.0  # Beta(p * c, (1 - p) * c) cluster base rates
HETEROGENEITY = 0.5  # coefficient of variation of a cluster's flip-rate multiplier


@dataclass(frozen=True)
class CellShape:
    """What a simulated cell looks like: its task, items and their clusters, base rate, churn."""

    task: str
    task_risk: Risk
    defense_risk: Risk
    clusters: tuple[str, ...]  # one label per item; all distinct when the task is not clustered
    clustered: bool  # whether the gate resamples by these clusters
    base_rate: float  # of the risky outcome (utility: of a correct answer), in [0, 1]
    discordance: float  # expected share of items whose outcome changes, in [0, 1]

    @property
    def n(self) -> int:
        return len(self.clusters)

    def with_items(self, n: int) -> CellShape:
        """The same task at `n` items, keeping the mean cluster size (more clusters, not bigger)."""
        labels = list(dict.fromkeys(self.clusters))
        size = max(1.0, len(self.clusters) / max(1, len(labels)))
        return CellShape(
            self.task,
            self.task_risk,
            self.defense_risk,
            tuple(f"c{int(i // size)}" for i in range(n)),
            self.clustered,
            self.base_rate,
            self.discordance,
        )


@dataclass(frozen=True)
class Draw:
    """One simulated cell: both arms' outcomes and the change the process really has."""

    base: np.ndarray
    defended: np.ndarray
    true_delta: float  # expected mean(defended - base) of the generating process, outcome units


def draw_cell(shape: CellShape, delta: float, rng: np.random.Generator) -> Draw:
    """Base and defended outcomes with a true rise in risk of about `delta` (outcome units; for
    utility a drop in accuracy) and the shape's background discordance around it."""
    labels, index = np.unique(np.asarray(shape.clusters), return_inverse=True)
    g = len(labels)
    p = float(np.clip(shape.base_rate, 1e-3, 1 - 1e-3))
    rates = rng.beta(p * CONCENTRATION, (1 - p) * CONCENTRATION, size=g) if shape.clustered else np.full(g, p)
    k = 1.0 / HETEROGENEITY**2
    scale = rng.gamma(k, 1.0 / k, size=g) if shape.clustered else np.ones(g)
    p_item, s_item = rates[index], scale[index]
    base = (rng.random(shape.n) < p_item).astype(np.float64)
    change = -delta if shape.task_risk.is_control else delta  # utility: a regression is a drop
    # background churn moves items both ways in balance, so it is capped where one direction has no
    # room (a cluster near 0 or 1); the planted change then comes on top (clipped at a saturated base)
    room = 2 * np.minimum(p_item, 1 - p_item)
    churn = np.minimum(s_item * shape.discordance, room)
    up = np.clip((churn / 2 + s_item * max(change, 0.0)) / np.clip(1 - p_item, 1e-3, None), 0.0, 1.0)
    down = np.clip((churn / 2 + s_item * max(-change, 0.0)) / np.clip(p_item, 1e-3, None), 0.0, 1.0)
    flip = rng.random(shape.n) < np.where(base == 0, up, down)
    defended = np.where(flip, 1.0 - base, base)
    true = float(((1 - p_item) * up - p_item * down).mean())  # E[defended - base] of the process
    return Draw(base, defended, -true if shape.task_risk.is_control else true)


def simulate_cell(
    shape: CellShape,
    delta: float,
    *,
    policy: Policy,
    family_size: int,
    runs: int,
    seed: int,
) -> dict[str, float]:
    """Shares of pass / fail / inconclusive over `runs` draws of one tolerance cell with a true
    rise of `delta` (outcome units), decided in a family of `family_size` cells."""
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys(VERDICTS, 0)
    truth = 0.0
    for _ in range(runs):
        d = draw_cell(shape, delta, rng)
        effect = assess(
            defense="simulated",
            defense_risk=shape.defense_risk,
            task=shape.task,
            task_risk=shape.task_risk,
            base=d.base,
            defended=d.defended,
            policy=policy,
            seed=int(rng.integers(1 << 31)),
            clusters=list(shape.clusters) if shape.clustered else None,
            gate="tolerance",
            family_size=family_size,
        )
        counts[effect.verdict] += 1
        truth += d.true_delta
    return {v: counts[v] / runs for v in VERDICTS} | {"true_delta_pts": truth / runs * POINTS}


@dataclass(frozen=True)
class MatrixCell:
    """One cell of a simulated matrix: its shape and its gate ("tolerance" or "efficacy")."""

    defense: str
    shape: CellShape
    gate: Gate


def simulate_matrices(
    cells: Sequence[MatrixCell],
    *,
    policy: Policy,
    runs: int,
    seed: int,
    planted: dict[int, float] | None = None,
    families: dict[Gate, int] | None = None,
) -> dict[str, float]:
    """`runs` whole matrices in which nothing truly changes (except the cells in `planted`,
    index -> true rise), each decided as the gate decides it (families counted from `cells`
    unless given: a real run's families also hold cells not simulated here).
    Returns the share of matrices with any failed cell among the unplanted ones, with any false
    "efficacy shown", and the share in which each planted cell was shown as harm."""
    planted = planted or {}
    families = families or {g: sum(c.gate == g for c in cells) for g in ("tolerance", "efficacy")}
    rng = np.random.default_rng(seed)
    any_fail = any_efficacy = 0
    caught = dict.fromkeys(planted, 0)
    for _ in range(runs):
        failed = efficacy = False
        for n, cell in enumerate(cells):
            d = draw_cell(cell.shape, planted.get(n, 0.0), rng)
            effect = assess(
                defense=cell.defense,
                defense_risk=cell.shape.defense_risk,
                task=cell.shape.task,
                task_risk=cell.shape.task_risk,
                base=d.base,
                defended=d.defended,
                policy=policy,
                seed=int(rng.integers(1 << 31)),
                clusters=list(cell.shape.clusters) if cell.shape.clustered else None,
                gate="tolerance" if cell.gate == "tolerance" else None,
                family_size=families[cell.gate],
            )
            if n in planted:
                caught[n] += effect.verdict == "fail"
            else:
                failed |= effect.verdict == "fail"
                efficacy |= effect.finding == "efficacy shown"
        any_fail += failed
        any_efficacy += efficacy
    return {
        "matrices": runs,
        "cells": len(cells),
        "tolerance_cells": families["tolerance"],
        "efficacy_cells": families["efficacy"],
        "any_fail": any_fail / runs,
        "any_false_efficacy": any_efficacy / runs,
        **{f"planted_{n}_fail": caught[n] / runs for n in planted},
    }
