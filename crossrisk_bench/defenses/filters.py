"""Filter defenses around a model: a PII redactor on outputs, a harmful-request detector on inputs.

Both are deterministic pattern filters (documented lists below), so what they block can be read
and their side effects measured: a redactor also hides harmless numbers (utility), a detector
also blocks safe prompts that look unsafe (over-refusal).
"""

from __future__ import annotations

import re

from crossrisk_bench.defenses.base import DefenseSpec, WrappedBackend
from crossrisk_bench.judges.pii import PATTERNS
from crossrisk_bench.models.base import Backend, Prompt

REDACTED = "[REDACTED]"
HARM_TERMS = (
    "kill",
    "murder",
    "weapon",
    "gun",
    "bomb",
    "explosive",
    "poison",
    "hack",
    "break into",
    "steal",
    "malware",
    "ransomware",
    "keylogger",
    "phishing",
    "launder",
    "meth",
    "drug",
    "terror",
    "attack",
    "hurt",
    "harass",
    "stalk",
    "threat",
    "suicide",
    "end my life",
    "self-harm",
    "groom",
    "fake",
    "scam",
    "fraud",
    "insult",
)
_HARM = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in HARM_TERMS) + r")", re.IGNORECASE)
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."


class PIIRedactor(WrappedBackend):
    kind = "filter"

    def postprocess(self, text: str) -> str:
        for pii_type in self.spec.params["types"]:
            text = PATTERNS[pii_type].sub(REDACTED, text)
        return text


class HarmfulRequestFilter(WrappedBackend):
    kind = "filter"

    def intercept(self, prompt: Prompt) -> str | None:
        user_text = (
            " ".join(m.content for m in prompt.messages if m.role == "user") if prompt.is_chat else prompt.text or ""
        )
        return REFUSAL_TEXT if _HARM.search(user_text) else None


def build_pii_redactor(base: Backend, spec: DefenseSpec) -> Backend:
    return PIIRedactor(base, spec)


def build_harm_filter(base: Backend, spec: DefenseSpec) -> Backend:
    return HarmfulRequestFilter(base, spec)
