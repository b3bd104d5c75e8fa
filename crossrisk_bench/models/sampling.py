"""Sampled decoding for any backend: the same tasks, answered with temperature sampling.

Why a wrapper: tasks decode greedily (a gate must be repeatable), but some questions need
samples: an A/A check compares a model with itself under different sampling seeds, which is
the noise floor a verdict must not mistake for harm. Wrapping the backend gives every
generation task a sampling option without a parameter threaded through each scorer; scoring
by log-likelihood is deterministic and passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import DecodingConfig, Generation, Loglikelihood, LoglikelihoodRequest, Prompt


@dataclass
class SampledBackend:
    """`inner` with every generation request decoded at `temperature` (top-p `top_p`) from `seed`."""

    inner: Any
    temperature: float
    seed: int
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise CrossriskError(f"sampled decoding needs temperature > 0, got {self.temperature}")

    @property
    def name(self) -> str:
        return f"{self.inner.name}@T{self.temperature:g}s{self.seed}"

    @property
    def fingerprint(self) -> str:
        return f"{self.inner.fingerprint}-T{self.temperature:g}-p{self.top_p:g}-s{self.seed}"

    @property
    def stats(self) -> Any:
        return self.inner.stats

    def generate(self, prompts: Sequence[Prompt], config: DecodingConfig) -> list[Generation]:
        sampled = replace(config, temperature=self.temperature, top_p=self.top_p, seed=self.seed)
        return self.inner.generate(prompts, sampled)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        return self.inner.loglikelihood(requests)
