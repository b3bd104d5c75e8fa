"""Typed results: JSON round trips, old schemas load, bad records are one clear error."""

from __future__ import annotations

import json

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
