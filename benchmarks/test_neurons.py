"""Neuron-level analysis (opt-in: --crossrisk-neurons or -m neurons), for every weight-defended
model and every risk pair that includes its target: are the pair's conflict-entangled neurons
tracking a significant cross-risk regression? The findings go to results.json, the model card,
the HTML report and neurons.png."""

import pytest

PAIRS = [("safety", "fairness"), ("safety", "privacy"), ("fairness", "privacy")]


@pytest.mark.parametrize(
    "pair",
    [
        pytest.param(
            p, id="-".join(p), marks=[pytest.mark.neurons, getattr(pytest.mark, p[0]), getattr(pytest.mark, p[1])]
        )
        for p in PAIRS
    ],
)
def test_entangled_neurons(crossrisk_neurons, pair):
    crossrisk_neurons(pair)
