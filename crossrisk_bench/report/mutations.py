"""The per-mutation view of the jailbreak task (SORRY-Bench's figure): for each defended model,
the fulfilment rate under every mutation, base against defended, with the paired interval of the
change. Descriptive only: the gate stays on the pooled rate, clustered by category.

Rows in a language the judge was not validated on carry "judge not validated for this language"
and no rates: a number there would look validated when the English-keyword judge cannot read the
answer. Built from the records' per-item outcomes, so a saved results.json renders it again.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from crossrisk_bench.results import EffectRecord, RunDocument
from crossrisk_bench.stats import DEFAULT_CONFIDENCE, paired_t_interval
from crossrisk_bench.tasks.mutations import FAMILY_OF, NOT_VALIDATED, judge_validated

TASK = "jailbreak"


@dataclass(frozen=True)
class MutationRow:
    """One defense under one mutation; rates and interval are None where the judge is unvalidated."""

    defense: str
    mutation: str
    family: str
    n: int
    base_rate: float | None
    defended_rate: float | None
    change: float | None
    ci: tuple[float, float] | None
    note: str | None = None


def mutation_rows(records: Sequence[EffectRecord], *, confidence: float = DEFAULT_CONFIDENCE) -> list[MutationRow]:
    """Rows for every jailbreak record, mutations in the bank's order. The interval is the paired t
    interval over the mutation's items singly: within one mutation most categories appear once,
    so there is no cluster to resample."""
    rows = []
    for record in (r for r in records if r.task == TASK):
        groups: dict[str, list] = {}
        for item in record.items:
            groups.setdefault(str(item.slices.get("mutation", "all")), []).append(item)
        for mutation, items in groups.items():
            family = str(items[0].slices.get("family", FAMILY_OF.get(mutation, "other")))
            if not judge_validated(mutation):
                rows.append(
                    MutationRow(
                        record.defense_name, mutation, family, len(items), None, None, None, None, NOT_VALIDATED
                    )
                )
                continue
            base = [i.base for i in items]
            defended = [i.defended for i in items]
            ci = None
            if len(items) >= 2:
                interval = paired_t_interval(base, defended, confidence=confidence)
                ci = (interval.low, interval.high)
            rows.append(
                MutationRow(
                    record.defense_name,
                    mutation,
                    family,
                    len(items),
                    sum(base) / len(base),
                    sum(defended) / len(defended),
                    (sum(defended) - sum(base)) / len(base),
                    ci,
                )
            )
    return rows


def json_view(document: RunDocument) -> dict:
    """`{"jailbreak_mutations": [...]}` for results.json, or nothing when the run has no jailbreak cell."""
    rows = mutation_rows(document.effects, confidence=document.confidence)
    return {"jailbreak_mutations": [asdict(r) | {"ci": list(r.ci) if r.ci else None} for r in rows]} if rows else {}


def _pts(value: float) -> str:
    return f"{value * 100:+.1f}"


def _cells(row: MutationRow) -> tuple[str, str, str]:
    if row.note:
        return row.note, "", ""
    assert row.base_rate is not None and row.defended_rate is not None and row.change is not None
    ci = f" ({_pts(row.ci[0])}..{_pts(row.ci[1])})" if row.ci else ""
    return f"{row.base_rate:.2f}", f"{row.defended_rate:.2f}", f"{_pts(row.change)}{ci}"


def markdown(document: RunDocument) -> list[str]:
    rows = mutation_rows(document.effects, confidence=document.confidence)
    if not rows:
        return []
    lines = [
        "",
        "### Jailbreak fulfilment by mutation (SORRY-Bench)",
        "",
        f"Base and defended fulfilment rate per mutation, change in points with its {document.confidence:.0%} "
        "paired interval; descriptive (the gate is on the pooled rate, clustered by category). Language rows: the "
        "judge reads English keywords, so they carry no rate and the gate leaves them out.",
        "",
        "| defense | family | mutation | items | base | defended | change (pts) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r.defense} | {r.family} | {r.mutation} | {r.n} | " + " | ".join(_cells(r)) + " |" for r in rows]
    return lines


def html_section(document: RunDocument) -> str:
    rows = mutation_rows(document.effects, confidence=document.confidence)
    if not rows:
        return ""
    esc = html.escape
    body = "".join(
        f"<tr{' class=unvalidated' if r.note else ''}><td>{esc(r.defense)}</td><td>{esc(r.family)}</td>"
        f"<td>{esc(r.mutation)}</td><td>{r.n}</td>"
        + (f"<td colspan='3'><i>{esc(r.note)}</i></td>" if r.note else "".join(f"<td>{esc(c)}</td>" for c in _cells(r)))
        + "</tr>"
        for r in rows
    )
    return (
        "<h2>Jailbreak fulfilment by mutation (SORRY-Bench)</h2><p><small>Descriptive: the gate is on the pooled "
        "rate, clustered by category; language rows carry no rate because the judge reads English keywords.</small></p>"
        "<div class='scroll'><table><tr><th>defense</th><th>family</th><th>mutation</th><th>items</th><th>base</th>"
        f"<th>defended</th><th>change (pts, interval)</th></tr>{body}</table></div>"
    )
