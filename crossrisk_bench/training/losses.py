"""Training losses on padded batches: target log-probabilities, NLL, DPO against the adapter-free
reference, and the unlearning losses (gradient ascent, NPO) with a retain term.

- gradient ascent: raise the forget set's loss (Jang et al. 2023); simple, and known to
  collapse a model if run too long, which is why a retain loss is added;
- NPO, negative preference optimisation (Zhang et al. 2024): the DPO loss with only a
  "rejected" answer, `(2/beta) * log(1 + (p_theta / p_ref)^beta)`, which saturates once the
  forget set is unlikely instead of pushing its likelihood to zero without bound.
"""

from __future__ import annotations

from typing import Any

from crossrisk_bench.training.data import on_device


def sequence_logprobs(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """Per example: the summed log-probability of its target tokens, and how many there are."""
    import torch

    batch = on_device(batch, next(model.parameters()).device)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
    mask = batch["target_mask"][:, 1:]
    return (logp * mask).sum(-1), mask.sum(-1).clamp(min=1)


def mean_nll(model: Any, batch: dict[str, Any]) -> Any:
    """Per-example mean negative log-likelihood of the target, averaged over the batch."""
    total, count = sequence_logprobs(model, batch)
    return (-total / count).mean()


def reference_logprobs(model: Any, batch: dict[str, Any]) -> Any:
    """Target log-probabilities under the frozen starting model (the adapter switched off)."""
    import torch

    with torch.no_grad(), model.disable_adapter():
        return sequence_logprobs(model, batch)[0]


def dpo_loss(model: Any, chosen: dict[str, Any], rejected: dict[str, Any], beta: float, sft_weight: float = 0.0) -> Any:
    """-log sigmoid(beta * (chosen margin - rejected margin)) against the reference model, plus
    `sft_weight` x the per-token NLL of the chosen answers (RPO, Pang et al. 2024): plain DPO can
    widen the margin by pushing the rejected answer down while the chosen one never becomes the
    greedy answer, which is what the zoo's first refusal_dpo did."""
    import torch

    chosen_lp, chosen_n = sequence_logprobs(model, chosen)
    margin_c = chosen_lp - reference_logprobs(model, chosen)
    margin_r = sequence_logprobs(model, rejected)[0] - reference_logprobs(model, rejected)
    loss = -torch.nn.functional.logsigmoid(beta * (margin_c - margin_r)).mean()
    if sft_weight:
        loss = loss + sft_weight * (-chosen_lp / chosen_n).mean()
    return loss


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
