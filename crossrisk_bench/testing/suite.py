"""The small gated suite that runs on the tiny model end to end, and a run's pytest arguments.

tests/test_suite.py and benchmarks/test_faults_run.py run the same suite and models file;
tests/test_completeness.py runs its own tests with the same arguments.
"""

from __future__ import annotations

from pathlib import Path

SUITE = """
import pytest

@pytest.mark.privacy
def test_pii_leakage(crossrisk_gate):
    crossrisk_gate("pii_leakage")

@pytest.mark.fairness
def test_stereotype_preference(crossrisk_gate):
    crossrisk_gate("stereotype_preference")

@pytest.mark.utility
def test_utility(crossrisk_gate):
    crossrisk_gate("utility")
"""
MODELS = '[[defended]]\ndefense = "fair_prompt"\n\n[[defended]]\ndefense = "privacy_prompt"\n'


def run_args(model: Path, cache: Path, models: Path, report: Path, *extra: str) -> list[str]:
    """pytest's arguments for a run on `model` with this models file, response cache and report
    folder, on one thread and without pytest's own cache; then `extra`."""
    return [
        "--crossrisk-model",
        str(model),
        "--crossrisk-cache",
        str(cache),
        "--crossrisk-models",
        str(models),
        "--crossrisk-report",
        str(report),
        "--crossrisk-threads",
        "1",
        "-p",
        "no:cacheprovider",
        *extra,
    ]
