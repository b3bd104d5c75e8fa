"""The conflict matrix: defenses (grouped by target risk) x tasks (grouped by risk) of effects.

Built on the controller from the JSON records that tests attach to their reports, sorted by
fixed keys, so a serial run and an xdist run with any worker count give the same matrix.
Benjamini-Hochberg q-values are computed within each decision family (tolerance cells, own-risk
efficacy cells), and a cell's label (conflict, synergy, efficacy, backfire) needs q < 1 -
confidence: with ~100 cells, unadjusted p-values would label about five of them by chance. The
unadjusted label stays in the record. Verdicts come from the gate (`effects`), whose "fail" and
"efficacy shown" are already decided family-wise.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from crossrisk_bench.results import VERDICTS, EffectRecord, Gate, Headroom, Label, Verdict, sort_key
from crossrisk_bench.stats import benjamini_hochberg

RISK_ORDER = ("safety", "fairness", "privacy", "utility")
MARKS: dict[Label, str] = {"conflict": "!", "backfire": "!", "efficacy": "*", "synergy": "*", "neutral": ""}
VERDICT_MARKS: dict[Verdict, str] = {"pass": "", "fail": "X", "inconclusive": "?"}
HEADROOM_MARKS: dict[Headroom | None, str] = {"cannot show a rise": "^", "cannot show a fall": "_", None: ""}
LEGEND = (
    "cells: change in risk, pts (utility: drop); ! significant rise, * significant fall (BH q < 0.05 within "
    "the cell's family: cross-risk and cost cells, own-risk cells); X failed gate (harm shown: the lower "
    "bound of the decision interval, Bonferroni-adjusted over the family's cells, exceeds the tolerance; "
    "so any false X in the matrix has probability <= 5%), ? inconclusive (neither harm nor "
    "non-inferiority shown); "
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
    label: Label
    verdict: Verdict
    q_value: float
    n: int
    mde_pts: float = 0.0
    message: str = ""
    headroom: Headroom | None = None
    base: str | None = None  # the entry's own base (models.toml `base`); None: the run's base
    tolerance: float = 0.0  # points (0 on an efficacy cell)
    gate: Gate = "tolerance"
    items_to_decide: int | None = None  # for an inconclusive cell, were its observed change the true one

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

    def verdict_counts(self) -> dict[Verdict, int]:
        return {v: sum(c.verdict == v for c in self.cells) for v in VERDICTS}

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


def adjusted_label(record: EffectRecord, q_value: float) -> Label:
    """The cell's label after multiplicity control: significant only when q < 1 - confidence."""
    label = record.label_unadjusted or record.label
    return label if q_value < 1.0 - record.confidence else "neutral"


def family_q_values(records: Sequence[EffectRecord]) -> list[float]:
    """Benjamini-Hochberg q-values within each decision family: own-risk efficacy cells (large
    true effects, tiny p-values) would otherwise loosen the threshold of the cross-risk cells,
    where a false conflict label is what a reader acts on."""
    q = [1.0] * len(records)
    for gate in ("tolerance", "efficacy"):
        members = [n for n, r in enumerate(records) if (r.gate == "efficacy") == (gate == "efficacy")]
        for n, value in zip(members, benjamini_hochberg([records[n].p_value for n in members])):
            q[n] = value
    return q


def build_matrix(records: Sequence[EffectRecord], task_order: Sequence[str]) -> ConflictMatrix:
    order = {name: i for i, name in enumerate(task_order)}
    records = sorted(records, key=lambda r: sort_key(r, task_order))
    q_values = family_q_values(records)
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
            float(r.tolerance),
            r.gate,
            r.items_to_decide,
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


TERMINAL_WIDTH = 100
PER_BLOCK = 4  # defense columns per block: 31 + 4 x 16 characters fit a 100-column terminal


def render_terminal(matrix: ConflictMatrix, *, width: int = TERMINAL_WIDTH) -> list[str]:
    """The matrix for a terminal, transposed so it never wraps at `width` columns: one block per
    defense risk (at most PER_BLOCK defenses side by side), tasks as rows; cell = rise in risk
    (pts; utility: drop) with its marks. Then the legend, the verdict counts, the cells a reader
    must act on (`decided_lines`) and the risk-to-risk conflict counts."""
    heads = [f"defenses aimed at {r}" for r, _ in matrix.defenses]
    task_w = max([len(t) + 13 for _, t in matrix.tasks] + [len(h) + 1 for h in heads])
    lines: list[str] = []
    for base, rows in matrix.base_groups():
        if len(matrix.base_groups()) > 1:
            lines.append(f"vs base {base}:" if base else "vs the run's base:")
        for risk in dict.fromkeys(r for r, _ in rows):
            names = [d for r, d in rows if r == risk]
            for start in range(0, len(names), PER_BLOCK):
                chunk = names[start : start + PER_BLOCK]
                col_w = [max(len(d), 9) + 1 for d in chunk]
                lines.append(
                    f"defenses aimed at {risk}".ljust(task_w) + "".join(d.ljust(w) for d, w in zip(chunk, col_w))
                )
                for task_risk, task in matrix.tasks:
                    label = f"  {task_risk:<9}{task}".ljust(task_w)
                    texts = [(c.text if (c := matrix.cell(d, task)) else "") for d in chunk]
                    lines.append((label + "".join(t.ljust(w) for t, w in zip(texts, col_w))).rstrip()[:width])
    lines.append(LEGEND)
    counts = matrix.verdict_counts()
    lines.append(f"verdicts: {counts['pass']} pass, {counts['fail']} fail, {counts['inconclusive']} inconclusive")
    lines += decided_lines(matrix)
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
    return fit(lines, width)


def fit(lines: list[str], width: int = TERMINAL_WIDTH) -> list[str]:
    """Lines wrapped at `width` (continuations indented), so nothing wraps mid-word in a terminal."""
    out: list[str] = []
    for line in lines:
        short = len(line) <= width
        out += [line] if short else textwrap.wrap(line, width, subsequent_indent="    ", break_on_hyphens=False)
    return out


def decided_lines(matrix: ConflictMatrix) -> list[str]:
    """What a reader acts on, one line a cell: failed cells, then significant ones (after BH),
    then one line for the inconclusive cells (where the full list is)."""

    def line(c: Cell) -> str:
        gate = f"tolerance {c.tolerance:g} pts" if c.gate == "tolerance" else "own risk"
        return (
            f"  {c.verdict.upper()} {c.defense_risk}/{c.defense} -> {c.task_risk}/{c.task} "
            f"{c.regression_pts:+.1f} pts ({c.low_pts:+.1f}..{c.high_pts:+.1f}), {gate}, {c.label}"
        )

    failed = [c for c in matrix.cells if c.verdict == "fail"]
    significant = [c for c in matrix.cells if c.verdict != "fail" and c.label != "neutral"]
    out = [f"decided: {len(failed)} failed, {len(significant)} significant"] if failed or significant else []
    out += [line(c) for c in failed + significant]
    undecided = [c for c in matrix.cells if c.verdict == "inconclusive"]
    if undecided:
        sizes = [c.items_to_decide for c in undecided if c.items_to_decide]
        smallest = f" (closest: about {min(sizes)} items)" if sizes else ""
        out.append(f"inconclusive: {len(undecided)} cells{smallest}; listed in report.html and results.json")
    return out


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
