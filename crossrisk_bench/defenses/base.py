"""Defenses: a target risk, a kind, and `apply(base) -> defended backend`.

A defended model is itself a `Backend`, so every task scores it exactly as it scores the base.
Its fingerprint combines the base's with the defense's full specification (every parameter it
was built with), which keys the response cache and lets the suite refuse a "defended" model
that is secretly its base.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.fingerprint import stable_hash
from crossrisk_bench.models.base import (
    Backend,
    BackendStats,
    Completion,
    DecodingConfig,
    Generation,
    Loglikelihood,
    LoglikelihoodRequest,
    Prompt,
)
from crossrisk_bench.risks import RISKS, Risk

# prompt: a system prompt; filter: input/output filters around the model; weights: a fine-tuned
# adapter merged into the base; checkpoint: another model named in models.toml; stack: several in turn
DefenseKind = Literal["prompt", "filter", "weights", "checkpoint", "stack"]
KINDS: tuple[DefenseKind, ...] = get_args(DefenseKind)
WEIGHT_KINDS: tuple[DefenseKind, ...] = ("weights", "checkpoint")  # defenses that change the weights
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")


def check_name(name: object, where: str) -> str:
    """A defense name, checked before it becomes part of a path (examples files, adapter folders)
    and a pytest id: letters, digits and _ . + - only, not starting with a dot (no `../x`)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise CrossriskError(
            f"{where}: name {name!r} must be 1-100 letters, digits, '_', '.', '+' or '-', not starting "
            "with '.', '+' or '-' (it becomes a file name)"
        )
    return name


@dataclass(frozen=True)
class DefenseSpec:
    """What a defense is, as plain data (recorded in results; enough to rebuild it)."""

    name: str
    target: Risk
    kind: DefenseKind
    description: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_name(self.name, "defense")
        if self.kind not in KINDS:
            raise CrossriskError(f"defense {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.target not in RISKS:
            raise CrossriskError(f"defense {self.name!r}: target must be safety, fairness or privacy")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def id(self) -> str:
        """The pytest id: `safety-guard_prompt`."""
        return f"{self.target.value}-{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target.value,
            "kind": self.kind,
            "description": self.description,
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class Defense:
    spec: DefenseSpec
    build: Callable[[Backend, DefenseSpec], Backend] = field(compare=False, hash=False)

    def apply(self, base: Backend) -> Backend:
        return self.build(base, self.spec)


class WrappedBackend:
    """A backend that rewrites prompts and/or post-processes answers around a base backend.

    Subclasses override `rewrite` (input side) and `postprocess` (output side). Log-likelihood
    requests go through `rewrite` too, so prompt defenses reach choice tasks; output filters
    cannot change a log-likelihood, which is recorded as a limit of filters, not hidden.
    """

    kind = "wrapped"

    def __init__(self, base: Backend, spec: DefenseSpec) -> None:
        self.base = base
        self.spec = spec
        self.name = f"{base.name}+{spec.name}"
        self.fingerprint = stable_hash({"base": base.fingerprint, "defense": spec.as_dict()})
        self.stats = BackendStats()

    def rewrite(self, prompt: Prompt) -> Prompt:
        return prompt

    def intercept(self, prompt: Prompt) -> str | None:
        """An answer given instead of the model's (an input filter), or None to ask the model."""
        return None

    def postprocess(self, text: str) -> str:
        return text

    def generate(self, prompts: Sequence[Prompt], config: DecodingConfig) -> list[Generation]:
        if not prompts:
            raise CrossriskError("generate() got an empty list of prompts")
        canned = [self.intercept(p) for p in prompts]
        asked = [self.rewrite(p) for p, c in zip(prompts, canned) if c is None]
        answers = iter(self.base.generate(asked, config) if asked else [])
        out = []
        for c in canned:
            if c is not None:
                out.append(Generation(tuple(Completion(c, 0, "filtered") for _ in range(config.n))))
                continue
            generation = next(answers)
            out.append(
                Generation(
                    tuple(
                        Completion(self.postprocess(s.text), s.num_tokens, s.finish_reason, s.prompt_truncated)
                        for s in generation.samples
                    )
                )
            )
        return out

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        return self.base.loglikelihood(
            [LoglikelihoodRequest(self.rewrite(r.context), r.continuation) for r in requests]
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.kind,
            "fingerprint": self.fingerprint,
            "defense": self.spec.as_dict(),
        }
