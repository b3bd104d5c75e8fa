"""The end of a run on the controller: the conflict matrix as text, the stacked-defense and
durability tables, then (with a report folder) results.json, the model card, the HTML page and
the heatmap."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crossrisk_bench.durability.summary import durability_lines, merge_durability
from crossrisk_bench.neurons.analysis import merge_findings
from crossrisk_bench.report.collect import Collector
from crossrisk_bench.report.judge_error import judge_error_lines
from crossrisk_bench.report.matrix import build_matrix, fit, render_terminal
from crossrisk_bench.report.outputs import results_document, write_reports
from crossrisk_bench.results import EffectRecord
from crossrisk_bench.tasks import TASKS
from crossrisk_bench.verdict.stacking import has_stacks, stack_comparisons, stack_lines


def write_run_summary(
    records: list[EffectRecord],
    neurons: list[dict[str, Any]],
    write_line: Callable[[str], Any],
    *,
    run: dict[str, Any],
    report_dir: Path | None,
    durability: Sequence[dict[str, Any]] = (),
    completeness: Any = None,
) -> None:
    """`run`: the run's settings as results.json records them (`Settings.run_record`)."""
    task_order = TASKS.names()
    if records:
        for line in render_terminal(build_matrix(records, task_order)) + fit(judge_error_lines(records)):
            write_line(line)
    stacks = stack_comparisons(records, confidence=run["confidence"], seed=run["seed"]) if has_stacks(records) else None
    if stacks:
        for line in ["stacked defenses (paired by item, not adjusted for multiplicity):", *stack_lines(stacks)]:
            write_line(line)
    attacked = merge_durability(durability) if durability else None
    if attacked:
        for line in durability_lines(attacked["rows"]):
            write_line(line)
    if report_dir is None:
        return
    document = results_document(
        records,
        run=run,
        task_order=task_order,
        neurons=merge_findings(neurons) if neurons else None,
        stacks=stacks,
        durability=attacked,
        completeness=completeness,
    )
    paths = write_reports(document, report_dir)
    write_line("crossrisk report: " + ", ".join(str(p) for p in paths))


def terminal_summary(
    terminalreporter: Any,
    collector: Collector,
    *,
    header: Sequence[str],
    run: dict[str, Any],
    report_dir: Path | None,
) -> None:
    """pytest's terminal summary: the matrix section (`header` first: the run's settings when
    the pytest header did not show them) and, for an incomplete run, what is missing."""
    completeness = collector.completeness
    if collector.records or collector.durability:
        terminalreporter.section("crossrisk conflict matrix")
        for line in header:
            terminalreporter.write_line(line)
        write_run_summary(
            collector.records,
            collector.neurons,
            terminalreporter.write_line,
            run=run,
            report_dir=report_dir,
            durability=collector.durability,
            completeness=completeness,
        )
    if completeness is not None and not completeness.complete:
        terminalreporter.section("crossrisk run incomplete", red=True)
        for line in completeness.lines():
            terminalreporter.write_line(line if line.startswith(" ") else f"crossrisk: {line}")
