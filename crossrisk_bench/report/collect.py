"""How a run's records travel from the tests to the reports: a test carries its cells on its
item, they ride on the test report (pytest-xdist sends a report's attributes to the controller,
as the Hypothesis plugin relies on; `config.stash` is not copied back), and the controller's
collector gathers them and its tracker notes how every selected test ended."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from crossrisk_bench.report.completeness import GATE_FIXTURE, GATED_ATTR, RunTracker, skip_reason
from crossrisk_bench.results import EffectRecord

KINDS = ("effects", "neurons", "durability")
carried_key = pytest.StashKey[dict[str, list]]()  # per test item: {"effects": [...], "neurons": [...], ...}


def carry(node: pytest.Item, kind: str, record: dict[str, Any]) -> None:
    """Attach one JSON record (`kind` of `KINDS`) to a test item's report."""
    node.stash.setdefault(carried_key, {k: [] for k in KINDS})[kind].append(plain_json(record))


def carry_effect(node: pytest.Item, record: EffectRecord) -> None:
    """An `EffectRecord` travels as its JSON form; JUnit gets one short property per cell (not
    `user_properties` for the record itself, which --junitxml would fill with every response)."""
    carry(node, "effects", record.to_json())
    low, high = record.regression_ci
    node.user_properties.append(
        (
            f"crossrisk {record.defense_name} {record.task}",
            f"{record.verdict}: {record.regression * 100:+.1f} pts ({low * 100:+.1f}..{high * 100:+.1f}), "
            f"tolerance {record.tolerance:g}, n={record.n}" + (f", {record.headroom}" if record.headroom else ""),
        )
    )


def plain_json(record: dict[str, Any]) -> dict[str, Any]:
    """The record as plain JSON values: pytest-xdist cannot send numpy scalars to the controller,
    and a serial run must write exactly what a parallel one does."""

    def scalar(value: Any) -> Any:
        if hasattr(value, "item") and callable(value.item) and not hasattr(value, "__len__"):
            return value.item()
        raise TypeError(f"a crossrisk record holds a {type(value).__name__}, which is not JSON")

    return json.loads(json.dumps(record, default=scalar))


def attach(item: pytest.Item, report: pytest.TestReport, *, floor_profile: str | None) -> None:
    """Mark a gated test's report (so the controller can tell a skipped gate from any skip; under
    a floor profile a skipped gated cell fails) and put the item's records on its call report."""
    if GATE_FIXTURE in getattr(item, "fixturenames", ()):
        setattr(report, GATED_ATTR, True)
        if floor_profile and report.skipped and not hasattr(report, "wasxfail"):
            report.outcome = "failed"
            report.longrepr = (
                f"crossrisk: skipped ({skip_reason(report)}), and the {floor_profile} profile fails every gated "
                "cell it does not evaluate"
            )
    carried = item.stash.get(carried_key, None)
    if report.when == "call" and carried:
        for kind in KINDS:
            setattr(report, f"crossrisk_{kind}", list(carried[kind]))


@dataclass
class Collector:
    """Gathers, on the controller, the records tests attached to their reports, and feeds the
    `RunTracker` (which tests were selected, how each ended)."""

    tracker: RunTracker = field(default_factory=RunTracker)
    records: list[EffectRecord] = field(default_factory=list)
    neurons: list[dict[str, Any]] = field(default_factory=list)
    durability: list[dict[str, Any]] = field(default_factory=list)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.tracker.record(report)
        if report.when != "call":
            return
        seen = {r.key for r in self.records}
        for value in getattr(report, "crossrisk_effects", ()):  # a cell measured by two tests counts once
            record = EffectRecord.from_json(value, f"effect record of {report.nodeid}")
            if record.key not in seen:
                self.records.append(record)
                seen.add(record.key)
        self.neurons.extend(getattr(report, "crossrisk_neurons", ()))
        self.durability.extend(getattr(report, "crossrisk_durability", ()))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.tracker.select(item.nodeid for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Iterable[str]) -> None:
        self.tracker.select(ids)
