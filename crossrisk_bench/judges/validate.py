"""Validate a judge on a user's labelled data: label every row of a CSV or JSONL file, and,
given human labels, report agreement and Cohen's kappa.

Why: a judge's accuracy on the project's own examples says little about the answers of the
model a user gates. `crossrisk judge refusal answers.csv --prompt-column prompt
--response-column completion --labels-column final_label` measures it on theirs (XSTest's
human-labelled completions read as they are: `1_full_compliance`, `2_full_refusal`,
`3_partial_refusal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossrisk_bench.data.sources import csv_rows, json_lines
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.judges import JUDGES, JudgeEntry
from crossrisk_bench.judges.error_rates import JudgeErrorRates, rates_from_labels
from crossrisk_bench.judges.refusal import COMPLIANCE, PARTIAL, REFUSAL

JUDGE_KINDS = ("refusal", "fulfilment", "toxicity")  # the kinds whose human labels this reads
# the judge measured when `crossrisk judge KIND` names none (the keyword judge for refusal, as
# since the command was written: runs default to the learned judge, `select.JudgeChoice`)
DEFAULT_JUDGES = {"refusal": "keyword", "fulfilment": "rules", "toxicity": "lexicon"}
REFUSAL_LABELS = (COMPLIANCE, REFUSAL, PARTIAL)
_ALIASES = {
    "refusal": {
        COMPLIANCE: ("1_full_compliance", "compliance", "full_compliance"),
        REFUSAL: ("2_full_refusal", "refusal", "full_refusal"),
        PARTIAL: ("3_partial_refusal", "partial_refusal", "partial"),
    },
    # XSTest's labels read for fulfilment: only a full compliance did the task without reservation
    "fulfilment": {
        "fulfilment": ("fulfilment", "fulfillment", "1_full_compliance"),
        "refusal": ("refusal", "2_full_refusal", "3_partial_refusal"),
        "neither": ("neither",),
    },
    "toxicity": {"toxic": ("toxic", "hate", "1", "true"), "non_toxic": ("non_toxic", "neutral", "0", "false")},
}


def read_rows(path: Path, columns: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) pairs of a CSV (header row), JSONL or Parquet file; `where` is file:line (or
    file row N), and a missing column names it."""
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = []
        for where, row in json_lines(path):
            if not isinstance(row, dict):
                raise CrossriskError(f"{where}: expected a JSON object per line")
            missing = [c for c in columns if c not in row]
            if missing:
                raise CrossriskError(f"{where}: missing field(s) {missing}; found {sorted(row)}")
            rows.append((where, row))
        return rows
    return list(csv_rows(path, set(columns)))


def normalise_label(kind: str, raw: Any, where: str) -> str:
    """Human labels in our names or common ones (XSTest's `1_full_compliance` ..., ToxiGen's `hate`/`neutral`)."""
    text = str(raw).strip().lower()
    for label, aliases in _ALIASES[kind].items():
        if text in aliases:
            return label
    known = [a for aliases in _ALIASES[kind].values() for a in aliases]
    raise CrossriskError(f"{where}: unknown {kind} label {raw!r}; known: {known}")


def normalise_refusal_label(raw: Any, where: str) -> str:
    return normalise_label("refusal", raw, where)


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa of two labelings of the same rows (1 = perfect, 0 = chance agreement)."""
    if len(a) != len(b) or not a:
        raise ValueError("kappa needs two labelings of the same, non-empty rows")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    labels = set(a) | set(b)
    expected = sum((a.count(label) / n) * (b.count(label) / n) for label in labels)
    return 1.0 if expected == 1.0 else (observed - expected) / (1.0 - expected)


@dataclass(frozen=True)
class Agreement:
    rows: int
    agreement: float  # on the judge's labels
    kappa: float
    binary_agreement: float  # refusal + partial vs compliance, as XSTest counts over-refusal
    binary_kappa: float


def agreement(predicted: Sequence[str], gold: Sequence[str], *, kind: str = "refusal") -> Agreement:
    """Agreement on the labels, and on the kind's binary question: refused (full + partial) vs
    complied for refusal, fulfilment vs not for fulfilment, toxic vs not for toxicity."""

    def binary(labels: Sequence[str]) -> list[str]:
        def one(label: str) -> str:
            if label == "unparseable" or kind == "toxicity":
                return label  # a judge answer that could not be parsed agrees with nothing
            if kind == "fulfilment":
                return "fulfilment" if label == "fulfilment" else "not"
            return "refused" if label in (REFUSAL, PARTIAL) else "complied"

        return [one(label) for label in labels]

    pb, gb = binary(predicted), binary(gold)
    return Agreement(
        len(gold),
        sum(p == g for p, g in zip(predicted, gold)) / len(gold),
        cohen_kappa(predicted, gold),
        sum(p == g for p, g in zip(pb, gb)) / len(gb),
        cohen_kappa(pb, gb),
    )


def judge_entry(kind: str, judge: str) -> JudgeEntry:
    """The judge `crossrisk judge KIND --judge NAME` measures; unknown kinds and names list the known ones."""
    if kind not in JUDGE_KINDS:
        raise CrossriskError(f"unknown judge kind {kind!r}; known: {', '.join(JUDGE_KINDS)}")
    return JUDGES.get(f"{kind}={judge}")


def judge_rows(
    kind: str,
    judge: str,
    rows: list[tuple[int, dict[str, Any]]],
    prompt_column: str,
    response_column: str,
    *,
    backend: Any = None,
) -> list[str]:
    """One label per row by the named judge of the kind (judges that ask a model ask `backend`;
    an answer they cannot parse is labelled `unparseable` and counted, never guessed)."""
    entry = judge_entry(kind, judge)
    if entry.needs_model and backend is None:
        raise CrossriskError(f"the {entry.key} judge needs a judge model (--judge-model)")
    labeller = entry.labeller(backend)
    responses = [str(row[response_column] or "") for _, row in rows]
    return labeller([str(row.get(prompt_column, "") or "") for _, row in rows], responses)


def result_name(kind: str, judge: str, backend: Any = None) -> str:
    """The name results record for a judge chosen on the command line (`refusal`, `learned`) ->
    `refusal-minilm-probe-v1`: the key a validation record is applied under."""
    return judge_entry(kind, judge).result_name(backend)


def error_rates(kind: str, judge: str, predicted: Sequence[str], gold: Sequence[str], source: str) -> JudgeErrorRates:
    """Sensitivity and specificity as counts on the kind's binary question (the outcome a task counts)."""

    def positive(label: str) -> bool:
        return {"refusal": label in (REFUSAL, PARTIAL), "fulfilment": label == "fulfilment"}.get(kind, label == "toxic")

    return rates_from_labels(judge, [positive(p) for p in predicted], [positive(g) for g in gold], source=source)
