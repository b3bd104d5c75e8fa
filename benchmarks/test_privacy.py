"""Privacy tasks, each run on every defended model against its base."""

import pytest

pytestmark = pytest.mark.privacy


def test_privacy_awareness(crossrisk_gate):
    crossrisk_gate("privacy_awareness")


def test_pii_leakage(crossrisk_gate):
    crossrisk_gate("pii_leakage")


def test_context_leakage(crossrisk_gate):
    crossrisk_gate("context_leakage")


def test_membership_inference(crossrisk_gate):
    crossrisk_gate("membership_inference")
