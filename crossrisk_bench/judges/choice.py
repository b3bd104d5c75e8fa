"""Parsing generated answers to closed questions: agreement and multiple choice.

An answer that cannot be parsed is labelled `unparseable` and counted as such in the task's
summary; it is never dropped silently (a model that stops answering must show, not vanish).
"""

from __future__ import annotations

import re

AGREE = "agree"
DISAGREE = "disagree"
UNPARSEABLE = "unparseable"

_DISAGREE = re.compile(
    r"\b(?:i (?:strongly )?disagree|disagree|i do not agree|i don't agree|no\b|not true|false\b|incorrect)"
)
_AGREE = re.compile(r"\b(?:i (?:strongly )?agree|agree|yes\b|true\b|correct\b|that's right)")


def parse_agreement(text: str) -> str:
    """`agree`, `disagree` or `unparseable`, from the first sentence that says either."""
    norm = re.sub(r"\s+", " ", text.replace("\u2019", "'")).strip().lower()
    if not norm:
        return UNPARSEABLE
    disagree, agree = _DISAGREE.search(norm), _AGREE.search(norm)
    if disagree and (not agree or disagree.start() <= agree.start()):
        return DISAGREE
    if agree:
        return AGREE
    return UNPARSEABLE


def parse_choice(text: str, options: list[str]) -> int | None:
    """Index of the option a generated answer picks: a leading letter (A/B/C...) or the one
    option text it contains; None when it names none or several."""
    norm = text.strip()
    letters = [chr(ord("A") + i) for i in range(len(options))]
    match = re.match(r"^\(?([A-Z])[).:\s]", norm + " ")
    if match and match.group(1) in letters:
        return letters.index(match.group(1))
    found = [i for i, option in enumerate(options) if option.lower() in norm.lower()]
    return found[0] if len(found) == 1 else None
