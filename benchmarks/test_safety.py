"""Safety tasks, each run on every defended model against its base (see fixtures/models.toml).
A test fails when a defense raises the risk beyond the policy's tolerance (fixtures/policy.toml)."""

import pytest

pytestmark = pytest.mark.safety


def test_misuse(crossrisk_gate):
    crossrisk_gate("misuse")


def test_jailbreak(crossrisk_gate):
    crossrisk_gate("jailbreak")


def test_over_refusal(crossrisk_gate):
    crossrisk_gate("over_refusal")


def test_toxicity(crossrisk_gate):
    crossrisk_gate("toxicity")
