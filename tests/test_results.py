"""Typed results: JSON round trips, old schemas load, bad records are one clear error."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.results import SCHEMA_VERSION, EffectRecord, ItemOutcome, RunDocument


def _record(**changes: object) -> EffectRecord:
    record = EffectRecord(
        {"name": "guard", "target": "safety", "kind": "prompt", "description": "d", "params": {"x": [1]}},
        "pii_leakage",
        "privacy",
        n=2,
        regression=0.5,
        regression_ci=(0.1, 0.9),
        p_value=0.01,
        label="conflict",
        verdict="fail",
        passed=False,
        items=(
            ItemOutcome("a", 0.0, 1.0, {"category": "email"}, "kept", "leaked", "no", "jane@x.org"),
            ItemOutcome("b", 1.0, 1.0, {"category": "phone"}),
        ),
        base_summary={"total": 0.5},
    )
    return record.replace(**changes)


def test_effect_record_round_trips_through_json() -> None:
    record = _record(vs_previous={"verdict": "pass"}, q_value=0.02)
    text = json.dumps(record.to_json())
    assert EffectRecord.from_json(json.loads(text)) == record
    assert "clustering_note" not in record.to_json() and record.to_json()["regression_ci"] == [0.1, 0.9]
    assert [i.id for i in record.worse_items()] == ["a"]  # privacy: a rise is worse


def test_utility_worse_items_are_the_ones_that_fell() -> None:
    record = _record(task="utility", task_risk="utility")
    assert [i.id for i in record.worse_items()] == []
    record = record.replace(items=(ItemOutcome("c", 1.0, 0.0),))
    assert [i.id for i in record.worse_items()] == ["c"]


def test_schema_one_records_get_their_verdict_from_passed() -> None:
    old = {k: v for k, v in _record().to_json().items() if k not in ("verdict", "label_unadjusted")}
    old["passed"] = False
    record = EffectRecord.from_json(old)
    assert record.verdict == "fail" and record.label_unadjusted == "conflict"


def test_bad_records_and_documents_name_what_is_wrong() -> None:
    data = _record().to_json()
    with pytest.raises(CrossriskError, match=r"effects\[0\]: unknown field\(s\) \['regresion'\]"):
        RunDocument.from_json({"schema_version": 3, "effects": [data | {"regresion": 1}]}, "r.json")
    with pytest.raises(CrossriskError, match=r"missing field\(s\) \['p_value'\]"):
        EffectRecord.from_json({k: v for k, v in data.items() if k != "p_value"})
    with pytest.raises(CrossriskError, match="schema version"):
        RunDocument.from_json({"schema_version": 99, "effects": []})


def test_document_round_trips_and_finds_cells() -> None:
    document = RunDocument({"model": "m"}, ("pii_leakage",), (_record(),), created="now", neurons={"pairs": []})
    again = RunDocument.from_json(json.loads(json.dumps(document.to_json())))
    assert again == document and again.schema_version == SCHEMA_VERSION
    assert again.effect("guard", "pii_leakage") == _record() and again.effect("guard", "misuse") is None


def test_exact_comparison_finds_every_changed_field(tmp_path: Path) -> None:
    """`scripts/compare_runs.py --exact`, the check a refactor must pass: identical runs give 0
    differences and exit 0; one changed verdict and one changed item score are both named."""
    import subprocess
    import sys

    def write(name: str, *records: EffectRecord) -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(RunDocument({"model": "m"}, ("pii_leakage",), records).to_json()))
        return path

    before = write("before", _record())
    changed_items = (_record().items[0], dataclasses.replace(_record().items[1], defended=0.5))
    after = write("after", _record(verdict="inconclusive", items=changed_items))
    script = Path(__file__).resolve().parents[1] / "scripts" / "compare_runs.py"

    def run(*paths: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(script), "--exact", *map(str, paths)], capture_output=True, text=True
        )

    same = run(before, before)
    assert same.returncode == 0 and "1 vs 1 effect records; 0 differences" in same.stdout
    different = run(before, after)
    assert different.returncode == 1 and "2 differences" in different.stdout
    assert "guard x pii_leakage.verdict: 'fail' != 'inconclusive'" in different.stdout
    assert "guard x pii_leakage.items[1].defended: '1.0' != '0.5'" in different.stdout
