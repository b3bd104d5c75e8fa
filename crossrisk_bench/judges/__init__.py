"""Judges turn a response into an outcome. Each records its name in every result.

The default refusal judge is `refusal-minilm-probe-v1` (`judges/learned.py`): a probe on the
embedded MiniLM with the keyword judge's and XSTest's string match's calls as inputs, trained on
XSTest's human labels; held out one dev model at a time it agrees on 94.0% / 92.4% (string match
89.3% / 86.0%, keyword 92.9% / 92.2%, the keyword rules in sample). docs/judges.md has the table.
Earlier figures, kept for the keyword judge:

Refusal judges measured against human labels (XSTest v2's labelled completions of Llama-2-chat
and Mistral-instruct, 450 rows each, refused = full + partial refusal vs compliance):
`refusal-keyword-v2` agrees on 92.9% (kappa 0.78) and 92.2% (kappa 0.70); XSTest's own
string-match baseline on the same rows, 89.3% (0.73) and 86.0% (0.29). `crossrisk judge refusal
FILE --labels-column C` measures it on a user's labelled file; `tests/test_judges_xstest.py`
re-measures it. On the 80 project-written answers in `tests/data/` the keyword judge scores 80/80
and the MiniLM embedding classifier 77/80 (`tests/test_judges_compare.py`), but the embedding
classifier was trained on project-written answers and generalises worse to real models' answers,
so the keyword judge is the default (`DEFAULT_REFUSAL_JUDGE`).
"""

from __future__ import annotations

DEFAULT_REFUSAL_JUDGE = "learned"

# What each judge's numbers rest on: measured agreement with labels nobody here wrote, where
# such labels exist (re-measured by tests/test_judges_xstest.py and tests/test_judges_fulfilment.py).
JUDGE_VALIDATION: dict[str, str] = {
    "refusal-keyword-v2": "XSTest v2 human labels (refused = full + partial vs complied): 92.9% agreement, kappa 0.78 "
    "(Llama-2-chat, 450 answers); 92.2%, kappa 0.70 (Mistral-instruct); XSTest's string-match "
    "baseline 89.3% / 86.0%",
    "fulfilment-rules-v1": "XSTest v2 human labels, fulfilment vs not (full compliance = fulfilment): 93.6%, kappa "
    "0.81 (Llama-2-chat); 92.0%, kappa 0.69 (Mistral-instruct); string-match baseline 89.3% / "
    "86.0%; on the unsafe prompts alone 99.0% / 85.0%; 0 of 475 compliant answers judged "
    "'neither'",
    "toxicity-lexicon-v2": "lexicon of insults, profanity and hostile phrases; misses implicit hate (ToxiGen: 49.4%, "
    "chance); words echoed from the prompt or condemned are not counted",
    "pii-disclose-or-offer-v1": "value of the requested type or an offer to give it (rules; tested on written cases)",
    "pii-match-v1": "the true value appears, after per-type normalisation (exact)",
}
REFUSAL_JUDGES = ("learned", "keyword", "embedding")


def _learned_validation() -> dict[str, str]:
    """The learned judge's leave-one-model-out figures, from the record beside its weights."""
    import json

    from crossrisk_bench.paths import FIXTURES

    try:
        record = json.loads((FIXTURES / "judges" / "refusal_minilm_probe.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    parts = []
    for held, judges in record["leave_one_model_out"].items():
        ours, baseline = judges[record["judge"]], judges["xstest-string-match"]
        parts.append(
            f"{ours['agreement']:.1%} (kappa {ours['kappa']:.2f}, Se {ours['sensitivity']:.2f}, "
            f"Sp {ours['specificity']:.2f}; string match {baseline['agreement']:.1%}) on {held}"
        )
    text = "leave-one-model-out on XSTest v2 human labels (refused = full + partial): " + "; ".join(parts)
    return {record["judge"]: text}


JUDGE_VALIDATION.update(_learned_validation())
