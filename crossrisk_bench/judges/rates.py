"""Each shipped judge's measured sensitivity and specificity, as counts, for the judge-error
correction of effects (`crossrisk_bench.judges.error_rates`).

Why counts and not rates: the correction propagates how uncertain the rates are, which depends
on how many labelled answers they rest on. Sources, on the binary question each task counts:

- `refusal-minilm-probe-v1`: leave-one-model-out on XSTest v2's dev labels (out of sample),
  read from the record `scripts/train_refusal_judge.py` writes beside the weights;
- `refusal-keyword-v2`, `fulfilment-rules-v1`: the same 900 dev answers, whose rules were
  written while measuring on them (optimistic: on three unseen models the keyword judge agreed
  on 88.7%, issue 28); re-measured by tests/test_judge_error.py when the data is present.

A user's own figures (`crossrisk judge ... --write-validation FILE`, then
`--crossrisk-judge-validation FILE`) replace these for the judges they name.
"""

from __future__ import annotations

from collections.abc import Mapping

from crossrisk_bench.judges.error_rates import JudgeErrorRates

_DEV = "XSTest v2 dev labels, 900 answers of Llama-2-chat and Mistral-instruct"
MEASURED: dict[str, JudgeErrorRates] = {
    "refusal-keyword-v2": JudgeErrorRates(
        "refusal-keyword-v2", 394, 425, 439, 475, f"{_DEV}; refused = full + partial; in sample for the rules"
    ),
    "fulfilment-rules-v1": JudgeErrorRates(
        "fulfilment-rules-v1", 445, 475, 390, 425, f"{_DEV}; fulfilment = full compliance; in sample for the rules"
    ),
}


def shipped_rates() -> dict[str, JudgeErrorRates]:
    """The measured rates of every shipped judge (the learned judge's from its record, if shipped)."""
    from crossrisk_bench.errors import CrossriskError
    from crossrisk_bench.judges.learned import shipped_record

    rates = dict(MEASURED)
    try:
        record = shipped_record()
    except CrossriskError:
        return rates
    learned = JudgeErrorRates.from_json(record["error_rates"])
    rates[learned.judge] = learned
    return rates


def rates_for(judge: str, overrides: Mapping[str, JudgeErrorRates] | None = None) -> JudgeErrorRates | None:
    """A user's validation record for the judge first, else the shipped one, else None."""
    if overrides and judge in overrides:
        return overrides[judge]
    return shipped_rates().get(judge)
