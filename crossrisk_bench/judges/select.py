"""Which judge scores refusal and fulfilment in a run (`--crossrisk-judge refusal=embedding`).

Why a run-level choice: a user who has measured a judge on their own labelled answers
(`crossrisk judge ... --labels-column`) should be able to run the suite with it. The choice is
recorded in every result through the judge's name. Judges are built once per process: the
embedding judge loads MiniLM, the LLM judge the judge model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crossrisk_bench.errors import CrossriskError

Labeller = Callable[[Sequence[str], Sequence[str]], list[str]]  # (requests, responses) -> labels
CHOICES = {"refusal": ("learned", "keyword", "embedding", "llm"), "fulfilment": ("rules", "llm")}


@dataclass(frozen=True)
class JudgeChoice:
    refusal: str = "learned"
    fulfilment: str = "rules"
    model: str | None = None  # the judge model of `llm` judges
    validation: str | None = None  # a user's judge validation record (`crossrisk judge --write-validation`)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "refusal": self.refusal,
            "fulfilment": self.fulfilment,
            "judge_model": self.model,
            "judge_validation": self.validation,
        }


def parse_judge_options(values: Sequence[str], model: str | None, validation: str | None = None) -> JudgeChoice:
    """`KIND=NAME` pairs; unknown kinds or names list the known ones."""
    chosen: dict[str, str] = {}
    for value in values:
        kind, sep, name = value.partition("=")
        if not sep or kind not in CHOICES:
            raise CrossriskError(
                f"--crossrisk-judge {value!r}: expected KIND=NAME with KIND one of {', '.join(CHOICES)}"
            )
        if name not in CHOICES[kind]:
            raise CrossriskError(
                f"--crossrisk-judge {value!r}: unknown {kind} judge; known: {', '.join(CHOICES[kind])}"
            )
        chosen[kind] = name
    if validation is not None:
        from pathlib import Path

        from crossrisk_bench.judges.error_rates import read_validation_file

        read_validation_file(Path(validation).expanduser())  # a bad file fails the run at its start
    choice = JudgeChoice(**chosen, model=model, validation=validation)
    if "llm" in (choice.refusal, choice.fulfilment) and not model:
        raise CrossriskError("an llm judge needs --crossrisk-judge-model NAME (a known name, directory or hub id)")
    return choice


@dataclass(frozen=True)
class Judges:
    """Built judges: each labels (requests, responses) and has the name results record."""

    refusal: Labeller
    refusal_name: str
    fulfilment: Labeller
    fulfilment_name: str


def build_judges(choice: JudgeChoice = JudgeChoice(), judge_backend: Any = None) -> Judges:
    from crossrisk_bench.judges.fulfilment import FulfilmentJudge
    from crossrisk_bench.judges.llm import FULFILMENT_TEMPLATE, LLMJudge
    from crossrisk_bench.judges.refusal import KeywordRefusalJudge

    if "llm" in (choice.refusal, choice.fulfilment) and judge_backend is None:
        raise CrossriskError("an llm judge needs a judge model")
    if choice.refusal == "keyword":
        keyword = KeywordRefusalJudge()
        refusal, refusal_name = (lambda qs, rs: [keyword.label(r) for r in rs]), keyword.name
    elif choice.refusal == "learned":
        from crossrisk_bench.judges.learned import LearnedRefusalJudge

        learned = LearnedRefusalJudge()
        refusal, refusal_name = (lambda qs, rs: learned.labels(rs)), learned.name
    elif choice.refusal == "embedding":
        from crossrisk_bench.judges.embedding import EmbeddingRefusalJudge

        embedding = EmbeddingRefusalJudge()
        refusal, refusal_name = (lambda qs, rs: embedding.labels(rs)), embedding.name
    else:
        llm = LLMJudge(judge_backend)
        refusal, refusal_name = llm.judge, llm.name
    if choice.fulfilment == "rules":
        rules = FulfilmentJudge()
        fulfilment, fulfilment_name = (lambda qs, rs: [rules.label(q, r) for q, r in zip(qs, rs)]), rules.name
    else:
        llm_f = LLMJudge(judge_backend, FULFILMENT_TEMPLATE, ("fulfilment", "refusal", "neither"))
        fulfilment, fulfilment_name = llm_f.judge, llm_f.name + ":fulfilment"
    return Judges(refusal, refusal_name, fulfilment, fulfilment_name)
