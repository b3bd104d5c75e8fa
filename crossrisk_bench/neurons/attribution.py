"""Per-neuron attribution of a risk behaviour: which MLP neurons push the model towards the safe
response, and how much each matters.

A neuron is one input channel of a layer's MLP down projection (`mlp.down_proj` in Llama-style
models): its activation a is what the down projection mixes back into the residual stream. For
calibration prompts paired with safe target responses (a refusal, "cannot be determined", a
correct answer for utility), with L the log-likelihood of the target:
- the **signed score** is sum(a * dL/da) over positions, averaged over prompts (first-order
  estimate of how much L falls if the neuron is zeroed, with sign: > 0 means the neuron supports
  the safe response);
- the **importance** is sum(|a * dL/da|) (SNIP-style magnitude), averaged over prompts;
- the **wanda** score is ||a||_2 over all calibration tokens times the L1 norm of the neuron's
  down-projection column: Wanda's per-weight |W_ij| * ||X_j||_2 (Sun et al. 2023, as used by
  Wei et al. 2024) summed over the weights the neuron feeds. It needs no gradient, so it sees how
  much a neuron carries, not whether the safe response depends on it.
Prompts are processed in chunks (at most 50: full-batch attribution over 200 SmolLM2 prompts
peaks at 15 GB, chunks keep it near a few GB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.torch_state import default_threads, torch_threads
from crossrisk_bench.training.config import Example
from crossrisk_bench.training.data import collate, encode, on_device

MAX_CHUNK = 50
METHODS = ("snip", "wanda")


@dataclass(frozen=True)
class Attribution:
    """Per-neuron scores, numpy arrays of shape (layers, neurons)."""

    risk: str
    signed: Any
    importance: Any  # SNIP
    prompts: int
    wanda: Any = None
    mean_activation: Any = None  # over the calibration tokens (the same forward pass)

    def scores(self, method: str) -> Any:
        """The importance the critical sets rank by: "snip" or "wanda"."""
        if method not in METHODS:
            raise CrossriskError(f"unknown importance method {method!r}; known: {', '.join(METHODS)}")
        return self.importance if method == "snip" else self.wanda


def down_projections(model: Any) -> list[Any]:
    """The MLP down projection of every layer, in order (Llama, Mistral, Qwen, SmolLM layouts)."""
    found = [m for name, m in model.named_modules() if name.endswith("mlp.down_proj")]
    if not found:
        raise CrossriskError("neuron analysis needs MLP layers with a `mlp.down_proj` (Llama-style models)")
    return found


def attribute(
    backend: Any, examples: Sequence[Example], risk: str, *, chunk: int = 16, max_tokens: int = 128
) -> Attribution:
    """Signed and magnitude attribution of every MLP neuron for `examples` (prompt -> safe target)."""
    import torch

    if not examples:
        raise CrossriskError(f"no calibration examples for {risk}")
    if not 1 <= chunk <= MAX_CHUNK:
        raise CrossriskError(f"attribution chunk must be 1..{MAX_CHUNK} prompts, got {chunk}")
    model = backend.model
    layers = down_projections(model)
    signed = torch.zeros(len(layers), layers[0].in_features, dtype=torch.float64, device=backend.device)
    importance = torch.zeros_like(signed)
    squares = torch.zeros_like(signed)
    totals = torch.zeros_like(signed)
    tokens = 0.0
    captured: list[Any] = [None] * len(layers)

    def hook(index: int):
        def capture(module: Any, args: tuple[Any, ...]) -> None:
            args[0].retain_grad()
            captured[index] = args[0]

        return capture

    handles = [layer.register_forward_pre_hook(hook(i)) for i, layer in enumerate(layers)]
    was_training = model.training
    model.eval()
    requires = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        # on the backend's threads, as its own answers are computed (`HFBackend.on_threads`)
        with torch_threads(getattr(backend, "threads", None) or default_threads()):
            for start in range(0, len(examples), chunk):
                part = examples[start : start + chunk]
                batch = on_device(
                    collate([encode(backend, e.prompt, e.target, max_tokens) for e in part], backend.pad_id),
                    backend.device,
                )
                embeds = model.get_input_embeddings()(batch["input_ids"]).detach().requires_grad_(True)
                logits = model(inputs_embeds=embeds, attention_mask=batch["attention_mask"]).logits[:, :-1].float()
                logp = torch.log_softmax(logits, -1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
                mask = batch["target_mask"][:, 1:]
                ((logp * mask).sum(-1) / mask.sum(-1).clamp(min=1)).sum().backward()
                valid = batch["attention_mask"][:, :, None].to(torch.float64)
                for i, act in enumerate(captured):
                    values = act.detach().double() * valid
                    contribution = values * act.grad.double()
                    signed[i] += contribution.sum((0, 1))
                    importance[i] += contribution.abs().sum((0, 1))
                    squares[i] += values.square().sum((0, 1))
                    totals[i] += values.sum((0, 1))
                tokens += float(batch["attention_mask"].sum())
                captured[:] = [None] * len(layers)
    finally:
        for h in handles:
            h.remove()
        for p, r in zip(model.parameters(), requires):
            p.requires_grad_(r)
        model.train(was_training)
    n = len(examples)
    with torch.no_grad():
        columns = torch.stack([layer.weight.detach().abs().double().sum(0) for layer in layers])
    wanda = squares.sqrt() * columns.to(squares.device)
    return Attribution(
        risk,
        (signed / n).cpu().numpy(),
        (importance / n).cpu().numpy(),
        n,
        wanda.cpu().numpy(),
        (totals / max(tokens, 1.0)).cpu().numpy(),
    )
