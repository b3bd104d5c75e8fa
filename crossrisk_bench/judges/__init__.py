"""Judges turn a response into an outcome. Each records its name in every result.

Refusal judges, measured on the project-written labelled answers in `tests/data/` (80 answers:
42 in `refusal_labelled.jsonl`, 38 written later as a held-out set), after the fixes described
in the closing note of the task issue: keyword 80/80, MiniLM embedding classifier 77/80. The
more accurate one, the keyword judge, is the default (`DEFAULT_REFUSAL_JUDGE`);
`tests/test_judges_compare.py` re-measures both and fails if the default stops being the better.
"""

from __future__ import annotations

DEFAULT_REFUSAL_JUDGE = "keyword"
REFUSAL_JUDGES = ("keyword", "embedding")
