"""The conflict matrix: defenses (grouped by target risk) x tasks (grouped by risk) of effects.

Built on the controller from the JSON records that tests attach to their reports, sorted by
fixed keys, so a serial run and an xdist run with any worker count give the same matrix.
Benjamini-Hochberg q-values are computed across all cells of the matrix, and a cell's label
(conflict, synergy, efficacy, backfire) needs q < 1 - confidence: with ~100 cells, unadjusted
p-values would label about five of them by chance. The unadjusted label stays in the record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from crossrisk_bench.results import EffectRecord, sort_key
from crossrisk_bench.stats import benjamini_hochberg

RISK_ORDER = ("safety", "fairness", "privacy", "utility")
MARKS = {"conflict": "!", "backfire": "!", "efficacy": "*", "synergy": "*", "neutral": ""}
VERDICT_MARKS = {"pass": "", "fail": "X", "inconclusive": "?"}
HEADROOM_MARKS = {"cannot show a rise": "^", "cannot show a fall": "_", None: ""}
LEGEND = (
    "cells: change in risk, pts (utility: drop); ! significant rise, * significant fall (BH q < 0.05 over "
    "the matrix); X failed gate (harm shown), ? inconclusive (neither harm nor non-inferiority shown); "
    "^ cannot show a rise, _ cannot show a fall (the base sits at that end of the task's scale, so the "
    "verdict says nothing about that direction); judged cells also carry a judge-corrected estimate, "
    "and those whose verdict it would change are listed as judge-sensitive"
)


@dataclass(frozen=True)
class Cell:
    defense: str
    defense_risk: str
    task: str
    task_risk: str
    regression_pts: float
    low_pts: float
    high_pts: float
    label: str
    verdict: str
    q_value: float
    n: int
    mde_pts: float = 0.0
    message: str = ""
    headroom: str | None = None
    base: str | None = None  # the entry's own base (models.toml `base`); None: the run's base

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def text(self) -> str:
        return (
            f"{self.regression_pts:+.1f}{MARKS[self.label]}{VERDICT_MARKS[self.verdict]}{HEADROOM_MARKS[self.headroom]}"
        )


@dataclass(frozen=True)
class ConflictMatrix:
    defenses: tuple[tuple[str, str], ...]  # (risk, name), in row order
    tasks: tuple[tuple[str, str], ...]  # (risk, task), in column order
    cells: tuple[Cell, ...]

    def cell(self, defense: str, task: str) -> Cell | None:
        return next((c for c in self.cells if c.defense == defense and c.task == task), None)

    def base_of(self, defense: str) -> str | None:
        """The base a row was compared with (None: the run's base)."""
        return next((c.base for c in self.cells if c.defense == defense), None)

    def base_groups(self) -> list[tuple[str | None, list[tuple[str, str]]]]:
        """Rows grouped by the base they were compared with, in row order."""
        groups: dict[str | None, list[tuple[str, str]]] = {}
        for risk, defense in self.defenses:
            groups.setdefault(self.base_of(defense), []).append((risk, defense))
        return list(groups.items())

    def verdict_counts(self) -> dict[str, int]:
        return {v: sum(c.verdict == v for c in self.cells) for v in ("pass", "fail", "inconclusive")}

    def saturated(self) -> list[Cell]:
        """Cells whose base sits at an end of the task's scale (marked ^ or _)."""
        return [c for c in self.cells if c.headroom is not None]

    def risk_summary(self) -> dict[str, dict[str, int]]:
        """How many significant conflicts each kind of defense causes in each other risk."""
        out = {d: {t: 0 for t in RISK_ORDER if t != d} for d in RISK_ORDER[:3]}
        for c in self.cells:
            if c.label == "conflict" and c.task_risk in out.get(c.defense_risk, {}):
                out[c.defense_risk][c.task_risk] += 1
        return out


def adjusted_label(record: EffectRecord, q_value: float) -> str:
    """The cell's label after multiplicity control: significant only when q < 1 - confidence."""
    label = record.label_unadjusted or record.label
    return label if q_value < 1.0 - record.confidence else "neutral"


def build_matrix(records: Sequence[EffectRecord], task_order: Sequence[str]) -> ConflictMatrix:
    order = {name: i for i, name in enumerate(task_order)}
    records = sorted(records, key=lambda r: sort_key(r, task_order))
    q_values = benjamini_hochberg([r.p_value for r in records])
    cells = tuple(
        Cell(
            r.defense_name,
            r.defense_target,
            r.task,
            r.task_risk,
            100 * r.regression,
            100 * r.regression_ci[0],
            100 * r.regression_ci[1],
            adjusted_label(r, q),
            r.verdict or "pass",
            q,
            r.n,
            100 * r.mde,
            r.message,
            r.headroom,
            r.own_base,
        )
        for r, q in zip(records, q_values)
    )
    defenses = tuple(dict.fromkeys((c.defense_risk, c.defense) for c in cells))
    tasks = tuple(
        sorted(
            dict.fromkeys((c.task_risk, c.task) for c in cells),
            key=lambda t: (RISK_ORDER.index(t[0]), order.get(t[1], 99), t[1]),
        )
    )
    return ConflictMatrix(defenses, tasks, cells)


def render_terminal(matrix: ConflictMatrix) -> list[str]:
    """Compact text matrix: cell = rise in risk (pts; utility: drop), ! conflict, * efficacy or
    synergy (95% CI excludes 0), X failed gate; then the risk-to-risk conflict counts."""
    name_w = max([len(f"{r}/{d}") for r, d in matrix.defenses] + [7])
    col_w = [max(len(t), 7) for _, t in matrix.tasks]
    groups = [risk for risk, _ in matrix.tasks]
    header_risk = (
        " " * name_w
        + " "
        + " ".join(
            (risk if i == 0 or groups[i - 1] != risk else "").ljust(w)
            for i, ((risk, _), w) in enumerate(zip(matrix.tasks, col_w))
        )
    )
    lines = [header_risk.rstrip(), " " * name_w + " " + " ".join(t.ljust(w) for (_, t), w in zip(matrix.tasks, col_w))]
    by_base = matrix.base_groups()
    for base, rows in by_base:
        if len(by_base) > 1:
            lines.append(f"vs base {base}:" if base else "vs the run's base:")
        for risk, defense in rows:
            row = [f"{risk}/{defense}".ljust(name_w)]
            for (_, task), w in zip(matrix.tasks, col_w):
                cell = matrix.cell(defense, task)
                row.append((cell.text if cell else "").ljust(w))
            lines.append(" ".join(row).rstrip())
    lines.append(LEGEND)
    counts = matrix.verdict_counts()
    lines.append(f"verdicts: {counts['pass']} pass, {counts['fail']} fail, {counts['inconclusive']} inconclusive")
    lines += saturation_lines(matrix)
    summary = matrix.risk_summary()
    lines.append(
        "conflicts by defense risk -> affected risk: "
        + "; ".join(
            f"{d} -> " + ", ".join(f"{t} {n}" for t, n in row.items())
            for d, row in summary.items()
            if any(c.defense_risk == d for c in matrix.cells)
        )
    )
    return lines


def saturation_lines(matrix: ConflictMatrix) -> list[str]:
    """One line per kind of headroom limit, naming its cells: a pass there is not evidence."""
    out = []
    for limit in ("cannot show a rise", "cannot show a fall"):
        cells = [c for c in matrix.saturated() if c.headroom == limit]
        if cells:
            by_task = Counter(c.task for c in cells)
            names = ", ".join(f"{task} ({n})" for task, n in by_task.items())
            out.append(f"{len(cells)} cells {limit}, their base at that end of the scale: {names}")
    return out
