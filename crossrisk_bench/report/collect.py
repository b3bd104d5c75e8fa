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

from crossrisk_bench.config.profiles import get_profile
from crossrisk_bench.report.completeness import GATE_FIXTURE, GATED_ATTR, Completeness, RunTracker, skip_reason
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


def attach(item: pytest.Item, report: pytest.TestReport, *, profile: str | None) -> None:
    """Mark a gated test's report (so the controller can tell a skipped gate from any skip; under
    a floor profile a skipped gated cell fails) and put the item's records on its call report."""
    if GATE_FIXTURE in getattr(item, "fixturenames", ()):
        setattr(report, GATED_ATTR, True)
        floor_profile = profile if profile is not None and get_profile(profile).floor else None
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

    completeness: Completeness | None = None  # set when the session finishes (`finish`)

    def finish(self, session: pytest.Session, exitstatus: int, *, used: bool) -> None:
        """Decide whether the run is complete (before the terminal summary writes the reports);
        an incomplete run that would otherwise exit 0 exits as failed. `used`: the run read the
        suite's settings (a run that never used the suite stays as it is)."""
        if not (used or self.tracker.uses_crossrisk or self.records):
            return
        stop = session.shouldfail or session.shouldstop
        interrupted = str(stop) if stop else ("interrupted" if exitstatus == pytest.ExitCode.INTERRUPTED else None)
        self.completeness = self.tracker.result(interrupted)
        if not self.completeness.complete and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.tracker.select(item.nodeid for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Iterable[str]) -> None:
        self.tracker.select(ids)


def gated_cells(items: Iterable[pytest.Item]) -> list[tuple[Any, str | None]]:
    """(defense spec, task) of every collected gated test: the task by the suite's naming
    (`test_<task>`), None for a test named otherwise."""
    cells = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if GATE_FIXTURE in getattr(item, "fixturenames", ()) and "crossrisk_defense" in params:
            name = getattr(item, "originalname", item.name)
            cells.append(
                (params["crossrisk_defense"], name.removeprefix("test_") if name.startswith("test_") else None)
            )
    return cells
