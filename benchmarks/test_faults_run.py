"""Fault injection: a tiny-model run killed (SIGKILL) or interrupted (SIGINT, as Ctrl-C) at a
random moment, then resumed from its cache, RUNS times per fault.

Opt-in (`--crossrisk-faults` or `-m faults`; about 10 minutes on 2 cores). Each run is a real
`pytest` subprocess of a small gated suite (3 tasks x 2 prompt defenses, 8 items per task,
batches of 2 so that answers are committed in many steps) on the 1M-parameter tiny model, with
its own empty response cache and report folder; the signal comes at a uniformly random moment
between 20% and 95% of a clean run's duration, and runs repeat until RUNS signals reached a
running process. After the fault the same command runs again (the resume). Columns:

- answers lost: answers in the cache right after the fault that the resume did not find (gone,
  changed or moved aside as corrupt);
- wrong results: cells of the resumed run that differ from a clean reference run (verdict,
  change, interval, every item's outcomes), plus resumes that did not finish complete;
- reports falsely marked complete: a report present after the fault that does not say
  `complete: false` although it lacks cells of the reference run or differs from them (a signal
  that lands after the report was written, while Python shuts down, leaves a true complete one);
- recomputation on resume: answers the resume computed (the mean over runs, and the reference
  run's total beside it): the work the fault cost, not a defect.

The goal is 0 in the first three. `pytest benchmarks/test_faults_run.py --crossrisk-faults -s`
prints the table; with --crossrisk-report DIR it is also written to DIR/faults.json.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from crossrisk_bench.testing.suite import MODELS, SUITE, run_args

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RUNS = 5


@dataclass(frozen=True)
class FaultRun:
    """One fault and its resume."""

    fault: str
    delay_s: float
    hit: bool  # the signal reached a running process (not one that had already finished)
    stop_s: float  # from the signal to the process's exit
    answers_saved: int  # in the cache right after the fault
    lost: int
    wrong: int
    falsely_complete: int
    marked_incomplete: bool  # the fault left a report that says complete: false
    recomputed: int


@dataclass(frozen=True)
class Project:
    """A folder with the suite, its models file and the tiny model: what every run starts from."""

    root: Path
    tiny: Path

    def command(self, name: str) -> list[str]:
        run = self.root / name
        command = [sys.executable, "-m", "pytest", "test_suite.py", "-q", "-W", "ignore::pytest.PytestWarning"]
        return command + run_args(
            self.tiny,
            run / "cache",
            self.root / "models.toml",
            run / "report",
            "--crossrisk-limit",
            "8",
            "--crossrisk-batch-size",
            "2",  # many small batches, each committed: a fault lands between and inside them
        )

    def start(self, name: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, CROSSRISK_PROGRESS="0", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        env["HF_DATASETS_OFFLINE"] = "1"
        log = (self.root / f"{name}.log").open("ab")
        return subprocess.Popen(
            self.command(name), cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def answers(run_dir: Path) -> dict[str, str]:
    """The response cache's rows (key -> value); none when the file is missing."""
    path = run_dir / "cache" / "responses.sqlite"
    if not path.is_file():
        return {}
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT key, value FROM entries").fetchall())
    except sqlite3.DatabaseError:
        return {}
    finally:
        conn.close()


def report(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "report" / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None


def cells(document: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """What must equal the reference: each cell's verdict, change, interval and item outcomes."""
    keep = ("verdict", "regression", "regression_ci", "n", "base_value", "defended_value", "p_value")
    return {
        (e["defense"]["name"], e["task"]): (
            {k: e[k] for k in keep},
            [(i["id"], i["base"], i["defended"]) for i in e["items"]],
        )
        for e in document["effects"]
    }


def run_to_end(project: Project, name: str) -> tuple[int, float]:
    began = time.perf_counter()
    process = project.start(name)
    return process.wait(timeout=1800), time.perf_counter() - began


def fault_run(project: Project, name: str, fault: signal.Signals, delay: float, reference: dict) -> FaultRun:
    """Start a run, signal it after `delay` seconds, then resume it and compare."""
    process = project.start(name)
    try:
        process.wait(timeout=delay)
        hit, stop = False, 0.0
    except subprocess.TimeoutExpired:
        hit = True
        sent = time.perf_counter()
        process.send_signal(fault)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:  # did not stop: count it as wrong below
            process.kill()
            process.wait()
        stop = time.perf_counter() - sent
    after_fault = answers(project.root / name)
    document = report(project.root / name)
    falsely_complete = int(
        document is not None and document.get("complete") is not False and cells(document) != reference
    )
    code, _ = run_to_end(project, name)
    resumed = answers(project.root / name)
    lost = sum(1 for k, v in after_fault.items() if resumed.get(k) != v)
    final = report(project.root / name)
    if final is None or code != 0 or final.get("complete") is not True:
        wrong = len(reference)  # the resume did not finish complete: nothing can be trusted
    else:
        got = cells(final)
        wrong = sum(1 for key, value in reference.items() if got.get(key) != value) + len(set(got) - set(reference))
    return FaultRun(
        fault.name,
        round(delay, 2),
        hit,
        round(stop, 2),
        len(after_fault),
        lost,
        wrong,
        falsely_complete,
        document is not None and document.get("complete") is False,
        len(resumed) - len(after_fault),
    )


def table(runs: list[FaultRun], total: int) -> list[str]:
    lines = [
        "| fault | runs (signal hit a running process) | answers lost | wrong results | reports falsely marked "
        "complete | recomputation on resume (mean answers; reference run: " + str(total) + ") | "
        "reports marked incomplete after the fault |",
        "|---|---|---|---|---|---|---|",
    ]
    for fault in dict.fromkeys(r.fault for r in runs):
        rows = [r for r in runs if r.fault == fault]
        mean = sum(r.recomputed for r in rows) / len(rows)
        stops = max(r.stop_s for r in rows)
        lines.append(
            f"| {fault} (stopped within {stops:.1f} s) | {len(rows)} ({sum(r.hit for r in rows)}) | "
            f"{sum(r.lost for r in rows)} | {sum(r.wrong for r in rows)} | {sum(r.falsely_complete for r in rows)} | "
            f"{mean:.0f} | {sum(r.marked_incomplete for r in rows)} |"
        )
    return lines


def test_kill_and_interrupt_then_resume(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    from crossrisk_bench.models.tiny import build_tiny

    project = Project(tmp_path, build_tiny(tmp_path / "tiny-llama"))
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "models.toml").write_text(MODELS)
    code, duration = run_to_end(project, "reference")
    first = report(tmp_path / "reference")
    assert code == 0 and first is not None and first["complete"] is True, (tmp_path / "reference.log").read_text()
    reference, total = cells(first), len(answers(tmp_path / "reference"))
    rng = random.Random(0)
    runs: list[FaultRun] = []
    for fault in (signal.SIGKILL, signal.SIGINT):
        for n in range(3 * RUNS):  # until RUNS signals reached a running process
            runs.append(fault_run(project, f"{fault.name}-{n}", fault, rng.uniform(0.2, 0.95) * duration, reference))
            if sum(r.hit for r in runs if r.fault == fault.name) == RUNS:
                break
    lines = table(runs, total)
    print(f"\nreference run: {duration:.1f} s, {total} answers, {len(reference)} cells", *lines, sep="\n")
    out = pytestconfig.getoption("crossrisk_report")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        summary = {"reference_seconds": duration, "reference_answers": total, "runs": [asdict(r) for r in runs]}
        (Path(out) / "faults.json").write_text(json.dumps(summary | {"table": lines}, indent=1))
    assert sum(r.lost + r.wrong + r.falsely_complete for r in runs) == 0, lines
