"""The defense registry (`crossrisk defenses` lists it): prompt and filter defenses, which need
no training, and the weight-level defenses of the zoo (`crossrisk_bench.defenses.zoo`), which
load a shipped adapter or train one on first use; and the defenses of installed packages
(entry-point group `crossrisk_bench.defenses`, each naming a `Defense`; `extensions`)."""

from __future__ import annotations

from crossrisk_bench.defenses import filters, prompt, zoo
from crossrisk_bench.defenses.base import Defense, DefenseSpec, WrappedBackend
from crossrisk_bench.extensions import DEFENSES_GROUP, EntryPoints
from crossrisk_bench.registry import Registry
from crossrisk_bench.risks import Risk


def _prompt(name: str, target: Risk, text: str, description: str) -> Defense:
    return Defense(
        DefenseSpec(name, target, "prompt", description, {"system_prompt": text}), prompt.build_prompt_defense
    )


def _weights(member: zoo.ZooMember) -> Defense:
    assert member.target is not None
    return Defense(
        DefenseSpec(member.name, member.target, "weights", member.description, member.params()),
        lambda base, spec: zoo.apply_member(base, zoo.get_member(spec.name)),
    )


DEFENSES: Registry[Defense] = Registry(
    "defense",
    lambda d: d.spec.name,
    (
        _prompt(
            "guard_prompt",
            Risk.SAFETY,
            prompt.SAFETY_GUARD,
            "system prompt telling the model to refuse harmful requests",
        ),
        _prompt("self_reminder", Risk.SAFETY, prompt.SELF_REMINDER, "self-reminder system prompt (Xie et al. 2023)"),
        _prompt("fair_prompt", Risk.FAIRNESS, prompt.FAIRNESS_PROMPT, "system prompt: answer without stereotypes"),
        _prompt("privacy_prompt", Risk.PRIVACY, prompt.PRIVACY_PROMPT, "system prompt: never reveal personal data"),
        Defense(
            DefenseSpec(
                "pii_redactor",
                Risk.PRIVACY,
                "filter",
                "redacts e-mails, phones, SSNs and IBANs in outputs",
                {"types": ["email", "phone", "ssn", "iban"]},
            ),
            filters.build_pii_redactor,
        ),
        Defense(
            DefenseSpec(
                "harm_filter",
                Risk.SAFETY,
                "filter",
                "answers requests with harm keywords by a canned refusal",
                {"terms": list(filters.HARM_TERMS)},
            ),
            filters.build_harm_filter,
        ),
        *(_weights(m) for m in zoo.MEMBERS),
    ),
    entry_points=EntryPoints(DEFENSES_GROUP, Defense),
)


def get_defense(name: str) -> Defense:
    return DEFENSES.get(name)


__all__ = ["DEFENSES", "Defense", "DefenseSpec", "WrappedBackend", "get_defense"]
