"""Unlearning losses: forget a set of texts (the PII of chosen people) while a retain set keeps
the model useful.

- gradient ascent: raise the forget set's loss (Jang et al. 2023); simple, and known to
  collapse a model if run too long, which is why a retain loss is added;
- NPO, negative preference optimisation (Zhang et al. 2024): the DPO loss with only a
  "rejected" answer, `(2/beta) * log(1 + (p_theta / p_ref)^beta)`, which saturates once the
  forget set is unlikely instead of pushing its likelihood to zero without bound.
"""

from __future__ import annotations

from typing import Any

from crossrisk_bench.defenses.finetune import (
    mean_nll,
    reference_logprobs,
    sequence_logprobs,
)


def npo_loss(model: Any, forget: dict[str, Any], beta: float) -> Any:
    import torch

    log_ratio = sequence_logprobs(model, forget)[0] - reference_logprobs(model, forget)
    return -(2.0 / beta) * torch.nn.functional.logsigmoid(-beta * log_ratio).mean()


def unlearning_loss(
    model: Any, forget: dict[str, Any], retain: dict[str, Any], *, method: str, beta: float, retain_weight: float
) -> Any:
    """Forget term (gradient ascent or NPO) plus `retain_weight` times the retain set's NLL."""
    forget_term = -mean_nll(model, forget) if method == "gradient_ascent" else npo_loss(model, forget, beta)
    return forget_term + retain_weight * mean_nll(model, retain)
