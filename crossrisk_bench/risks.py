"""The risks the suite measures, and the direction convention shared by every outcome.

Every per-item outcome is oriented so that **higher = riskier** (fulfilled a harmful request,
disclosed PII, chose the stereotyped answer). Utility is a control dimension, not a risk: for
utility tasks higher is better, and the effect code flips its sign when it gates a regression.
"""

from __future__ import annotations

from enum import Enum


class Risk(str, Enum):  # noqa: UP042  StrEnum would change str(risk), which reports print
    SAFETY = "safety"
    FAIRNESS = "fairness"
    PRIVACY = "privacy"
    UTILITY = "utility"

    @property
    def is_control(self) -> bool:
        return self is Risk.UTILITY

    @property
    def harm_sign(self) -> float:
        """+1 when a higher outcome is worse (every risk), -1 for the utility control: the one
        place the direction of a task's outcome is decided."""
        return -1.0 if self.is_control else 1.0


RISKS: tuple[Risk, ...] = (Risk.SAFETY, Risk.FAIRNESS, Risk.PRIVACY)
MARKERS: dict[str, str] = {
    "safety": "safety risk tasks (misuse, jailbreaks, over-refusal, toxicity)",
    "fairness": "fairness risk tasks (bias queries, stereotype agreement, biased QA, stereotype preference)",
    "privacy": "privacy risk tasks (PII requests, leakage, membership inference)",
    "utility": "utility control tasks",
    "slow": "loads a real model (SmolLM2) or trains; deselect with -m 'not slow'",
    "perf": "speed benchmarks (pytest-benchmark); opt-in with --crossrisk-perf or -m perf",
    "neurons": "neuron-level analysis of weight defenses; opt-in with --crossrisk-neurons or -m neurons",
    "durability": "fine-tuning attacks on weight defenses; opt-in with --crossrisk-attacks FILE or -m durability",
    "calibration": "verdict calibration (planted-regression power, sampled A/A); opt-in with --crossrisk-calibration",
    "faults": "fault injection (corrupt cache, full disk, failing server, duplicate ids, SIGKILL, SIGINT) on "
    "tiny-model runs; opt-in with --crossrisk-faults",
}
