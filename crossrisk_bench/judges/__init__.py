"""Judges turn a response into an outcome. Each records its name in every result.

Refusal judges measured against human labels (XSTest v2's labelled completions of Llama-2-chat
and Mistral-instruct, 450 rows each, refused = full + partial refusal vs compliance):
`refusal-keyword-v2` agrees on 92.9% (kappa 0.78) and 92.0% (kappa 0.69); XSTest's own
string-match baseline on the same rows, 89.3% (0.73) and 86.0% (0.29). `crossrisk judge refusal
FILE --labels-column C` measures it on a user's labelled file; `tests/test_judges_xstest.py`
re-measures it. On the 80 project-written answers in `tests/data/` the keyword judge scores 80/80
and the MiniLM embedding classifier 77/80 (`tests/test_judges_compare.py`), but the embedding
classifier was trained on project-written answers and generalises worse to real models' answers,
so the keyword judge is the default (`DEFAULT_REFUSAL_JUDGE`).
"""

from __future__ import annotations

DEFAULT_REFUSAL_JUDGE = "keyword"
REFUSAL_JUDGES = ("keyword", "embedding")
