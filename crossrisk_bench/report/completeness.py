"""Whether a run evaluated every cell it selected (DESIGN.md's `Run`).

A report that looks finished must be finished: after Ctrl-C, `-x`, a crashed xdist worker, an
errored test or a skipped gate, the conflict matrix lacks cells, and a reader of results.json,
the model card or the HTML page could not tell. The `RunTracker` watches the test reports on the
controller (under xdist the workers' reports arrive there, a crashed worker's as a report of its
own), and `Completeness` says what is missing; the plugin marks every report with it and exits
non-zero. Only reports are read, never `config.stash` of a worker (xdist does not copy it back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

GATE_FIXTURE = "crossrisk_gate"  # a test that uses it measures gated cells
GATED_ATTR = "crossrisk_gated"  # set on the reports of such tests (travels through xdist)
EFFECTS_ATTR = "crossrisk_effects"  # the cells a test measured, on its call report
PHASES = ("setup", "call", "teardown")


@dataclass(frozen=True)
class MissingCell:
    """A selected test whose cells are not (or not cleanly) in the reports, and why."""

    test: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"test": self.test, "reason": self.reason}


@dataclass(frozen=True)
class Completeness:
    """What a run left out; `complete` only when nothing was and it was not interrupted."""

    missing: tuple[MissingCell, ...] = ()
    interrupted: str | None = None

    @property
    def complete(self) -> bool:
        return not self.missing and self.interrupted is None

    def headline(self) -> str:
        """One line for the terminal and the top of every report."""
        if self.complete:
            return "complete: every selected gated cell was evaluated"
        parts = [f"stopped early ({self.interrupted})"] if self.interrupted else []
        if self.missing:
            parts.append(f"{len(self.missing)} selected test(s) not evaluated")
        return "INCOMPLETE run: " + "; ".join(parts) + " - the matrix lacks cells; do not read it as a release verdict"

    def lines(self, limit: int = 20) -> list[str]:
        """The headline, then the missing tests (at most `limit`, then a count)."""
        shown = [f"  {m.test}: {m.reason}" for m in self.missing[:limit]]
        more = [f"  ... and {len(self.missing) - limit} more"] if len(self.missing) > limit else []
        return [self.headline(), *shown, *more]


def _first_line(text: str, width: int = 200) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line[:width]


def skip_reason(report: Any) -> str:
    """The reason of a skipped report (pytest keeps it as (path, line, reason))."""
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return _first_line(str(longrepr or ""))


@dataclass
class RunTracker:
    """Selected tests and how each ended, fed by the pytest hooks on the controller."""

    selected: dict[str, None] = field(default_factory=dict)  # node ids in order (a dict as ordered set)
    finished: set[str] = field(default_factory=set)
    problems: dict[str, str] = field(default_factory=dict)  # node id -> why its cells are not clean
    uses_crossrisk: bool = False  # any report came from a crossrisk-gated test

    def select(self, node_ids: Iterable[str]) -> None:
        for node_id in node_ids:
            self.selected.setdefault(node_id, None)

    def record(self, report: Any) -> None:
        """One test report (setup, call, teardown, or xdist's report of a crashed worker)."""
        gated = bool(getattr(report, GATED_ATTR, False))
        self.uses_crossrisk |= gated
        node_id = report.nodeid
        if report.when not in PHASES:  # pytest-xdist reports a test that crashed its worker this way
            self.finished.add(node_id)
            self.problems.setdefault(node_id, "its worker crashed")
            return
        if report.when == "teardown":
            self.finished.add(node_id)
        if report.failed and report.when != "call":
            self.problems.setdefault(node_id, f"error in {report.when}: {_first_line(report.longreprtext)}")
        elif report.skipped and gated and not hasattr(report, "wasxfail"):
            self.problems.setdefault(node_id, f"skipped: {skip_reason(report)}")
        elif report.failed and gated and not getattr(report, EFFECTS_ATTR, None):
            self.problems.setdefault(node_id, f"failed before its verdict: {_first_line(report.longreprtext)}")

    def result(self, interrupted: str | None) -> Completeness:
        not_run = [MissingCell(n, "not run") for n in self.selected if n not in self.finished]
        problems = [MissingCell(n, why) for n, why in self.problems.items()]
        return Completeness(missing=tuple(problems + not_run), interrupted=interrupted)
