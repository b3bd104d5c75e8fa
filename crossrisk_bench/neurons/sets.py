"""Risk-critical neuron sets and conflict-entangled neurons (pure functions on score arrays).

- risk-critical set (Wei et al. 2024, set difference): the top-q fraction of neurons by
  importance for the risk, minus the top-p fraction for utility, so that neurons every behaviour
  needs (general language ability) are not counted as risk neurons;
- conflict-entangled neurons of a risk pair: in both risks' critical sets, with opposite signed
  attribution, i.e. a neuron that supports the safe response of one risk and opposes the other's,
  so moving one risk drags the other;
- how far the overlap exceeds chance: random sets of the same sizes, drawn with a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def top_fraction(scores: Any, fraction: float) -> Any:
    """Boolean mask of the `fraction` highest-scoring neurons over all layers (ties: lower index first)."""
    import numpy as np

    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    flat = np.asarray(scores, dtype=float).ravel()
    k = max(1, int(round(fraction * flat.size)))
    order = np.argsort(-flat, kind="stable")[:k]
    mask = np.zeros(flat.size, dtype=bool)
    mask[order] = True
    return mask.reshape(np.shape(scores))


def critical_set(importance: Any, utility_importance: Any, *, q: float, p: float) -> Any:
    """Top-q by the risk's importance minus top-p by utility importance."""
    return top_fraction(importance, q) & ~top_fraction(utility_importance, p)


def conflict_entangled(set_a: Any, set_b: Any, signed_a: Any, signed_b: Any) -> Any:
    """Neurons in both critical sets whose signed attributions have opposite signs."""
    import numpy as np

    return set_a & set_b & (np.sign(signed_a) * np.sign(signed_b) < 0)


def jaccard(a: Any, b: Any) -> float:
    union = int((a | b).sum())
    return float((a & b).sum()) / union if union else 0.0


@dataclass(frozen=True)
class OverlapBaseline:
    """Observed overlap of two sets against random sets of the same sizes."""

    observed: int
    expected: float  # mean overlap of random sets
    ratio: float  # observed / expected (inf when expected is 0 and observed > 0)
    p_value: float  # share of random draws with overlap >= observed (add-one smoothed)
    draws: int


def overlap_baseline(a: Any, b: Any, *, draws: int = 1000, seed: int = 0) -> OverlapBaseline:
    """Permutation baseline: overlaps of two uniformly random sets with |a| and |b| neurons."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n, ka, kb = a.size, int(a.sum()), int(b.sum())
    observed = int((a & b).sum())
    overlaps = np.empty(draws)
    for d in range(draws):
        x = np.zeros(n, dtype=bool)
        x[rng.choice(n, ka, replace=False)] = True
        overlaps[d] = x[rng.choice(n, kb, replace=False)].sum()
    expected = float(overlaps.mean())
    ratio = observed / expected if expected > 0 else (float("inf") if observed else 1.0)
    p_value = (1 + int((overlaps >= observed).sum())) / (draws + 1)
    return OverlapBaseline(observed, expected, ratio, p_value, draws)


def random_like(mask: Any, *, seed: int = 0, exclude: Any = None) -> Any:
    """A random set with as many neurons per layer as `mask` (for the causal control), avoiding `exclude`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.zeros_like(mask, dtype=bool)
    for layer in range(mask.shape[0]):
        pool = np.flatnonzero(~exclude[layer]) if exclude is not None else np.arange(mask.shape[1])
        k = min(int(mask[layer].sum()), pool.size)
        out[layer, rng.choice(pool, k, replace=False)] = True
    return out


def sparse_region(scores: Any, utility_scores: Any, *, sparsity: float, p: float) -> Any:
    """The `sparsity` fraction of all neurons ranked highest by the risk's scores among those
    outside the top-p for utility (Wei et al. 2024's set difference at a fixed size, so that
    removal curves compare equal neuron counts across risks)."""
    import numpy as np

    if not 0.0 < sparsity < 1.0:
        raise ValueError(f"sparsity must be in (0, 1), got {sparsity}")
    flat = np.where(top_fraction(utility_scores, p).ravel(), -np.inf, np.asarray(scores, dtype=float).ravel())
    k = min(max(1, int(round(sparsity * flat.size))), int(np.isfinite(flat).sum()))
    mask = np.zeros(flat.size, dtype=bool)
    mask[np.argsort(-flat, kind="stable")[:k]] = True
    return mask.reshape(np.shape(scores))
