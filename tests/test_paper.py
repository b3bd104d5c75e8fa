"""The comparison with CrossRiskEval's findings reads the matrix's adjusted labels, both ways."""

from __future__ import annotations

from crossrisk_bench.report.matrix import Cell, ConflictMatrix
from crossrisk_bench.report.paper import PAPER_FINDINGS, compare_with_paper, paper_lines
from crossrisk_bench.tasks import TASKS


def cell(defense: str, risk: str, task: str, pts: float, label: str = "neutral", mde: float = 20.0) -> Cell:
    task_risk = TASKS.get(task).risk.value
    return Cell(defense, risk, task, task_risk, pts, pts - 5, pts + 5, label, "pass", 0.01, 24, mde)


def matrix(*cells: Cell) -> ConflictMatrix:
    defenses = tuple(dict.fromkeys((c.defense_risk, c.defense) for c in cells))
    tasks = tuple(dict.fromkeys((c.task_risk, c.task) for c in cells))
    return ConflictMatrix(defenses, tasks, cells)


def statuses(m: ConflictMatrix) -> dict[str, str]:
    return {c.finding.key: c.status for c in compare_with_paper(m)}


def test_every_finding_names_known_tasks_of_other_risks() -> None:
    for finding in PAPER_FINDINGS:
        for task in finding.tasks:
            assert TASKS.get(task).risk.value != finding.defense_risk


def test_significant_cells_agree_contradict_or_mix() -> None:
    m = matrix(
        cell("refusal_sft", "safety", "bias_query", -40.0, "synergy"),  # 1a as claimed
        cell("refusal_sft", "safety", "pii_leakage", -6.0, "synergy"),  # 1b the other way
        cell("debias_sft", "fairness", "misuse", -30.0, "synergy"),  # 2 the other way
        cell("debias_sft", "fairness", "pii_leakage", +12.0, "conflict"),  # 2 as claimed
        cell("dp_finetune", "privacy", "misuse", +3.0),  # 3: not significant
    )
    assert statuses(m) == {"1a": "agrees", "1b": "contradicts", "2": "mixed", "3": "not shown"}
    lines = paper_lines(compare_with_paper(m))
    assert "`debias_sft` on `pii_leakage` +12.0" in lines[2] and "the other way" in lines[2]
    assert "median minimum detectable effect 20.0 pts" in lines[3]


def test_unadjusted_significance_and_own_risk_cells_do_not_count() -> None:
    """A large change the matrix left neutral (BH) is not evidence; nor is a cell of the defense's own risk."""
    m = matrix(
        cell("refusal_sft", "safety", "bias_query", -40.0, "neutral"),
        cell("refusal_sft", "safety", "misuse", -80.0, "efficacy"),
    )
    assert statuses(m)["1a"] == "not shown"
    assert statuses(m)["2"] == "not tested"
    assert "no fairness defense" in paper_lines(compare_with_paper(m))[2]


def test_direct_and_indirect_claims_follow_the_tasks_kinds() -> None:
    direct, indirect = (f for f in PAPER_FINDINGS if f.key in ("1a", "1b"))
    assert {TASKS.get(t).kind for t in direct.tasks} == {"direct"}
    assert {TASKS.get(t).kind for t in indirect.tasks} == {"indirect"}
