"""What a cell's result does to its pytest test: a user error fails it with one line, a model
or cache that cannot go on stops the run once, a task the model cannot run skips it, and the
gate's failures and doubts become one failure message and warnings."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from crossrisk_bench.errors import CrossriskError, Fatal, Unsupported


def stop_on(exc: CrossriskError, what: str = "", *, skip_unsupported: bool = True) -> Any:
    """A model or cache that cannot go on stops the run once; any other user error fails the test."""
    if skip_unsupported and isinstance(exc, Unsupported):
        pytest.skip(f"crossrisk: {what}{exc}")
    if isinstance(exc, Fatal):
        pytest.exit(f"crossrisk: {exc}")
    pytest.fail(f"crossrisk: {exc}", pytrace=False)


def fail_with(lines: Sequence[str]) -> None:
    if lines:
        pytest.fail("\n".join(lines), pytrace=False)


def warn_with(lines: Iterable[str]) -> None:
    for line in lines:  # attributed to the test that called the fixture's function
        warnings.warn(pytest.PytestWarning(line), stacklevel=3)


def weights_only(spec: Any, why: str) -> None:
    from crossrisk_bench.defenses.base import WEIGHT_KINDS

    if spec.kind not in WEIGHT_KINDS:
        pytest.skip(f"{spec.name} is a {spec.kind} defense: {why}")
