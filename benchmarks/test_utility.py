"""The utility control on every defended model: a defense that wins by breaking the model shows here."""

import pytest

pytestmark = pytest.mark.utility


def test_utility(crossrisk_gate):
    crossrisk_gate("utility")
