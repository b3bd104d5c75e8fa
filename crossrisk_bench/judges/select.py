"""Which judge scores refusal and fulfilment in a run (`--crossrisk-judge refusal=embedding`).

Why a run-level choice: a user who has measured a judge on their own labelled answers
(`crossrisk judge ... --labels-column`) should be able to run the suite with it. The choice is
recorded in every result through the judge's name. Judges are built once per process: the
embedding judge loads MiniLM, the LLM judge the judge model. The names come from `JUDGES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.judges import JUDGES, JudgeEntry, Labeller

if TYPE_CHECKING:
    from crossrisk_bench.judges.error_rates import JudgeErrorRates

RUN_KINDS = ("refusal", "fulfilment")  # the judges a run chooses (the scorers of judged tasks take these two)


@dataclass(frozen=True)
class JudgeChoice:
    refusal: str = "learned"
    fulfilment: str = "rules"
    model: str | None = None  # the judge model of `llm` judges
    validation: str | None = None  # a user's judge validation record (`crossrisk judge --write-validation`)
    # that record's rates by judge name, read once when the choice is parsed (every cell uses them)
    rates: Mapping[str, JudgeErrorRates] | None = field(default=None, compare=False, repr=False)

    def entries(self) -> tuple[JudgeEntry, JudgeEntry]:
        """The chosen refusal and fulfilment judges' `JudgeEntry`s."""
        return JUDGES.get(f"refusal={self.refusal}"), JUDGES.get(f"fulfilment={self.fulfilment}")

    def as_dict(self) -> dict[str, str | None]:
        return {
            "refusal": self.refusal,
            "fulfilment": self.fulfilment,
            "judge_model": self.model,
            "judge_validation": self.validation,
        }


def parse_judge_options(values: Sequence[str], model: str | None, validation: str | None = None) -> JudgeChoice:
    """`KIND=NAME` pairs; an unknown kind lists the known ones, an unknown name is the registry's error."""
    chosen: dict[str, str] = {}
    for value in values:
        kind, sep, name = value.partition("=")
        if not sep or kind not in RUN_KINDS:
            raise CrossriskError(
                f"--crossrisk-judge {value!r}: expected KIND=NAME with KIND one of {', '.join(RUN_KINDS)}"
            )
        if value not in JUDGES:
            known = ", ".join(key for key in JUDGES.names() if key.startswith(f"{kind}=") and JUDGES.get(key).build)
            raise CrossriskError(f"--crossrisk-judge {value!r}: unknown {kind} judge {name!r}; known: {known}")
        chosen[kind] = name
    rates = None
    if validation is not None:
        from pathlib import Path

        from crossrisk_bench.judges.error_rates import read_validation_file

        rates = read_validation_file(Path(validation).expanduser())  # a bad file fails the run at its start
    choice = JudgeChoice(**chosen, model=model, validation=validation, rates=rates)
    asking = [entry.key for entry in choice.entries() if entry.needs_model]
    if asking and not model:
        raise CrossriskError(
            f"the {' and '.join(asking)} judge needs --crossrisk-judge-model NAME (a known name, directory or hub id)"
        )
    return choice


@dataclass(frozen=True)
class Judges:
    """Built judges: each labels (requests, responses) and has the name results record."""

    refusal: Labeller
    refusal_name: str
    fulfilment: Labeller
    fulfilment_name: str


def build_judges(choice: JudgeChoice = JudgeChoice(), judge_backend: Any = None) -> Judges:
    refusal, fulfilment = choice.entries()
    if judge_backend is None and (refusal.needs_model or fulfilment.needs_model):
        raise CrossriskError(f"the {(refusal if refusal.needs_model else fulfilment).key} judge needs a judge model")
    return Judges(
        refusal.labeller(judge_backend),
        refusal.result_name(judge_backend),
        fulfilment.labeller(judge_backend),
        fulfilment.result_name(judge_backend),
    )
