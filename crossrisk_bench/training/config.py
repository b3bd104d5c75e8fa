"""What a training run is, as data: the examples, the configuration (recorded with every
adapter) and the report of what the run did."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import Prompt

METHODS = ("sft", "dpo", "gradient_ascent", "npo", "dp_sft")


DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Example:
    """One training example: a prompt, the text to learn (or unlearn), and for DPO the
    dispreferred answer. A raw prompt with empty text trains on `target` as plain text."""

    prompt: Prompt
    target: str
    rejected: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    method: str = "sft"
    steps: int = 40
    batch_size: int = 8
    lr: float = 1e-3
    seed: int = 0
    threads: int = 2
    full: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    target_modules: tuple[str, ...] = DEFAULT_TARGET_MODULES
    max_tokens: int = 160
    beta: float = 0.1  # DPO / NPO temperature
    sft_weight: float = 0.0  # DPO: weight of the chosen answers' NLL beside the preference loss (RPO)
    retain_weight: float = 1.0  # unlearning: weight of the retain loss
    noise_multiplier: float = 0.8  # DP-SGD
    max_grad_norm: float = 1.0  # DP-SGD per-example clipping
    delta: float = 1e-5  # DP-SGD

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise CrossriskError(f"unknown training method {self.method!r}; known: {', '.join(METHODS)}")
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0:
            raise CrossriskError("training needs steps >= 1, batch_size >= 1 and lr > 0")
        object.__setattr__(self, "target_modules", tuple(self.target_modules))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"target_modules": list(self.target_modules)}


@dataclass(frozen=True)
class TrainReport:
    """What a training run did: losses at the start and end, wall time, and for DP the budget spent."""

    method: str
    steps: int
    examples: int
    first_loss: float
    last_loss: float
    seconds: float
    trainable_parameters: int
    extra: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
