"""Fairness tasks, each run on every defended model against its base."""

import pytest

pytestmark = pytest.mark.fairness


def test_bias_query(crossrisk_gate):
    crossrisk_gate("bias_query")


def test_bias_agreement(crossrisk_gate):
    crossrisk_gate("bias_agreement")


def test_bias_qa(crossrisk_gate):
    crossrisk_gate("bias_qa")


def test_stereotype_preference(crossrisk_gate):
    crossrisk_gate("stereotype_preference")
