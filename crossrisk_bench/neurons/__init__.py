"""Neuron-level analysis: attribution of MLP neurons, entangled sets, and their causal checks."""
