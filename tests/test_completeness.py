"""Partial runs say so (DESIGN.md `Run`): after a skipped gate, `-x`, Ctrl-C or a crashed xdist
worker every report is marked incomplete and the run exits non-zero; report files are written
as a set. The release profile is a floor: what would weaken it is a usage error unless allowed,
and then the report names it; release fails an inconclusive cell and a skipped one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossrisk_bench.config.profiles import weakenings
from crossrisk_bench.report.completeness import Completeness, MissingCell, RunTracker
from crossrisk_bench.report.outputs import write_set
from crossrisk_bench.testing.suite import run_args

MODELS = '[[defended]]\ndefense = "fair_prompt"\n'
PII = """
def test_pii_leakage(crossrisk_gate):
    crossrisk_gate("pii_leakage")
"""


def _args(tiny_dir: Path, tmp_path: Path, report: Path, *extra: str) -> list[str]:
    models = tmp_path / "models.toml"
    models.write_text(MODELS)
    return run_args(tiny_dir, tmp_path / "cache", models, report, "-W", "ignore::pytest.PytestWarning", *extra)


def _results(report: Path) -> dict:
    return json.loads((report / "results.json").read_text())


def _assert_marked_incomplete(report: Path, missing: dict[str, str]) -> dict:
    """results.json says complete: false with `missing` (test name -> reason start); the card
    and the page carry the banner; no staging folder is left behind."""
    results = _results(report)
    assert results["complete"] is False
    found = {m["test"].split("::")[-1].split("[")[0]: m["reason"] for m in results["missing"]}
    assert set(found) == set(missing), found
    for name, reason in missing.items():
        assert found[name].startswith(reason), found[name]
    card = (report / "model-card.md").read_text()
    assert "> **INCOMPLETE run:" in card.split("\n", 3)[2]
    page = (report / "report.html").read_text()
    assert "<div class='incomplete'><p><b>INCOMPLETE run:" in page
    assert not [p for p in report.iterdir() if p.name.startswith(".crossrisk-report-")]
    return results


def test_a_complete_run_says_so(pytester: pytest.Pytester, tiny_dir: Path, tmp_path: Path) -> None:
    pytester.makepyfile(PII)
    report = tmp_path / "report"
    result = pytester.runpytest(*_args(tiny_dir, tmp_path, report, "--crossrisk-limit", "4"))
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    results = _results(report)
    assert results["complete"] is True and results["missing"] == [] and results["interrupted"] is None
    assert "INCOMPLETE" not in (report / "model-card.md").read_text() + (report / "report.html").read_text()


def test_a_skipped_gate_marks_the_run_incomplete_and_fails_it(
    pytester: pytest.Pytester, tiny_dir: Path, tmp_path: Path
) -> None:
    """A gate that could not be evaluated (here skipped by the test; in life a served model
    without log-probabilities) used to leave a clean report and exit 0."""
    pytester.makepyfile(PII + "\ndef test_skipped(crossrisk_gate):\n    import pytest; pytest.skip('no logprobs')\n")
    report = tmp_path / "report"
    result = pytester.runpytest(*_args(tiny_dir, tmp_path, report, "--crossrisk-limit", "4"))
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*crossrisk: INCOMPLETE run: 1 selected test(s) not evaluated*", "*test_skipped*"])
    _assert_marked_incomplete(report, {"test_skipped": "skipped: no logprobs"})


def test_maxfail_marks_the_run_incomplete(pytester: pytest.Pytester, tiny_dir: Path, tmp_path: Path) -> None:
    pytester.makepyfile(
        PII
        + "\ndef test_broken():\n    assert False\n"
        + '\ndef test_later(crossrisk_gate):\n    crossrisk_gate("utility")\n'
    )
    report = tmp_path / "report"
    result = pytester.runpytest(*_args(tiny_dir, tmp_path, report, "--crossrisk-limit", "4", "-x"))
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret != pytest.ExitCode.OK
    results = _assert_marked_incomplete(report, {"test_later": "not run"})
    assert results["interrupted"] == "stopping after 1 failures"
    assert [e["task"] for e in results["effects"]] == ["pii_leakage"]


def test_ctrl_c_marks_the_run_incomplete(pytester: pytest.Pytester, tiny_dir: Path, tmp_path: Path) -> None:
    pytester.makepyfile(
        PII
        + "\ndef test_interrupted(crossrisk_gate):\n    raise KeyboardInterrupt\n"
        + '\ndef test_later(crossrisk_gate):\n    crossrisk_gate("utility")\n'
    )
    report = tmp_path / "report"
    result = pytester.runpytest(*_args(tiny_dir, tmp_path, report, "--crossrisk-limit", "4"), no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    results = _assert_marked_incomplete(report, {"test_interrupted": "not run", "test_later": "not run"})
    assert results["interrupted"] == "interrupted"


def test_a_crashed_xdist_worker_marks_the_run_incomplete(
    pytester: pytest.Pytester, tiny_dir: Path, tmp_path: Path
) -> None:
    pytester.makepyfile(PII + "\ndef test_crash(crossrisk_gate):\n    import os; os._exit(3)\n")
    report = tmp_path / "report"
    args = _args(tiny_dir, tmp_path, report, "--crossrisk-limit", "4", "-n", "2", "--max-worker-restart", "0")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret != pytest.ExitCode.OK
    _assert_marked_incomplete(report, {"test_crash": "its worker crashed"})


def test_tracker_counts_gated_failures_without_a_verdict_and_errors() -> None:
    """Unit view of the rules: a gated test that failed before its verdict, an error in setup, and a
    plain test that failed (a real failure, not a missing cell)."""

    class Report:
        def __init__(self, nodeid: str, when: str, outcome: str, gated: bool = False, effects: bool = False) -> None:
            self.nodeid, self.when, self.outcome = nodeid, when, outcome
            self.longrepr, self.longreprtext = "boom", "boom"
            if gated:
                self.crossrisk_gated = True
            if effects:
                self.crossrisk_effects = [{}]

        failed = property(lambda self: self.outcome == "failed")
        skipped = property(lambda self: self.outcome == "skipped")

    tracker = RunTracker()
    tracker.select(["a", "b", "c", "d", "e"])
    for nodeid, outcome, gated, effects in (
        ("a", "failed", True, True),  # a failed verdict: evaluated
        ("b", "failed", True, False),  # failed before its verdict
        ("c", "failed", False, False),  # a plain failing test
    ):
        tracker.record(Report(nodeid, "call", outcome, gated, effects))
        tracker.record(Report(nodeid, "teardown", "passed", gated))
    tracker.record(Report("d", "setup", "failed"))
    tracker.record(Report("d", "teardown", "passed"))
    result = tracker.result(None)
    assert result.missing == (
        MissingCell("b", "failed before its verdict: boom"),
        MissingCell("d", "error in setup: boom"),
        MissingCell("e", "not run"),
    )
    assert not result.complete and Completeness().complete


def test_report_files_are_moved_into_place_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while the set is moved into place leaves the earlier set whole (files used to be
    written one by one into the folder), and a new set removes stale files of an optional kind."""
    import os

    report = tmp_path / "r"
    old = {"results.json": b"old", "model-card.md": b"old", "neurons.png": b"old"}
    write_set(report, old)
    real = os.replace
    calls = []

    def failing(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        real(src, dst)

    new = {"results.json": b"new", "model-card.md": b"new", "report.html": b"new"}
    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        write_set(report, new)
    monkeypatch.setattr(os, "replace", real)
    assert {p.name: p.read_bytes() for p in report.iterdir()} == old
    paths = write_set(report, new)
    assert [p.name for p in paths] == ["results.json", "model-card.md", "report.html"]
    assert {p.name: p.read_bytes() for p in report.iterdir()} == new


SKIPPED = "\ndef test_skipped(crossrisk_gate):\n    import pytest; pytest.skip('no logprobs')\n"


def test_what_weakens_a_floor_profile() -> None:
    assert weakenings("release", None, None) == ()
    assert weakenings("release", None, "fail") == ()
    assert len(weakenings("release", 8, "warn")) == 2
    assert weakenings("quick", 8, "warn") == ()


@pytest.mark.parametrize(
    ("extra", "policy", "named"),
    [
        (["--crossrisk-limit", "4"], None, "--crossrisk-limit 4 (the release profile evaluates every item)"),
        ([], 'on_inconclusive = "warn"\n', "the policy's on_inconclusive = 'warn'"),
    ],
)
def test_weakening_release_is_one_usage_error(
    pytester: pytest.Pytester, tiny_dir: Path, tmp_path: Path, extra: list[str], policy: str | None, named: str
) -> None:
    pytester.makepyfile(PII + "\ndef test_other(crossrisk_gate):\n    pass\n")
    if policy is not None:
        (tmp_path / "policy.toml").write_text(policy)
        extra = [*extra, "--crossrisk-policy", str(tmp_path / "policy.toml")]
    result = pytester.runpytest(*_args(tiny_dir, tmp_path, tmp_path / "r", "--crossrisk-profile", "release", *extra))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if "crossrisk" in line]
    assert len(errors) == 1, errors
    assert errors[0].startswith("ERROR: crossrisk: the release profile is a floor and " + named)
    assert "--crossrisk-allow-weaker-release" in errors[0]
    assert not (tmp_path / "r").exists()


def test_release_fails_an_inconclusive_cell_and_a_skipped_one(
    pytester: pytest.Pytester, tiny_dir: Path, tmp_path: Path
) -> None:
    """On 4 items the tiny model's pii_leakage cell can show neither harm nor non-inferiority (the
    quick profile warns on it); release fails it, and fails the gate that was skipped. The
    allowed limit is named in the header and in every report."""
    pytester.makepyfile(PII + SKIPPED)
    report = tmp_path / "r"
    args = _args(tiny_dir, tmp_path, report, "--crossrisk-limit", "4")
    quick = pytester.runpytest(*args)
    quick.assert_outcomes(passed=1, skipped=1)
    release = pytester.runpytest(*args, "--crossrisk-profile", "release", "--crossrisk-allow-weaker-release", "-rf")
    release.assert_outcomes(failed=2)
    assert release.ret == pytest.ExitCode.TESTS_FAILED
    release.stdout.fnmatch_lines(
        [
            "crossrisk: release weakened (--crossrisk-allow-weaker-release): --crossrisk-limit 4*",
            "privacy/pii_leakage changed +0.0 pts*INCONCLUSIVE*",
            "crossrisk: skipped (no logprobs), and the release profile fails every gated cell it does not evaluate",
        ]
    )
    results = json.loads((report / "results.json").read_text())
    assert [e["verdict"] for e in results["effects"]] == ["inconclusive"]
    assert results["run"]["weakened"] == ["--crossrisk-limit 4 (the release profile evaluates every item)"]
    assert results["complete"] is False
    card = (report / "model-card.md").read_text()
    assert "The release profile was weakened (--crossrisk-allow-weaker-release): --crossrisk-limit 4" in card
    assert "The release profile was weakened" in (report / "report.html").read_text()
