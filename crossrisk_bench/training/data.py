"""From examples to tensors: the prompt rendered as the model sees it at evaluation time, the
target appended and masked, batches padded and drawn epoch by epoch from a seeded shuffle."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import Prompt


@dataclass(frozen=True)
class Encoded:
    """Token ids of prompt+target and the mask of target positions (1 = learn this token)."""

    ids: tuple[int, ...]
    target_mask: tuple[int, ...]


def encode(backend: Any, prompt: Prompt, target: str, max_tokens: int) -> Encoded:
    """Render the prompt as the model sees it at evaluation time, then append the target; chat
    targets end with the end-of-turn token so the model also learns to stop."""
    tok = backend.tokenizer
    context = backend.render(prompt) if (prompt.is_chat or prompt.text) else ""
    end = (tok.eos_token or "") if prompt.is_chat else ""
    context_ids = list(tok(context, add_special_tokens=False)["input_ids"]) if context else []
    target_ids = list(tok(target + end, add_special_tokens=False)["input_ids"])
    if not target_ids:
        raise CrossriskError(f"training example with an empty target (prompt {context[:60]!r})")
    ids = (context_ids + target_ids)[-max_tokens:]
    mask = ([0] * len(context_ids) + [1] * len(target_ids))[-max_tokens:]
    if not context_ids:
        mask[0] = 0  # the first token has no prediction
    return Encoded(tuple(ids), tuple(mask))


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-pad a batch: input ids, attention mask and the target mask."""
    import torch

    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    target = torch.zeros((len(batch), width), dtype=torch.float32)
    for row, e in enumerate(batch):
        ids[row, : len(e.ids)] = torch.tensor(e.ids)
        attention[row, : len(e.ids)] = 1
        target[row, : len(e.ids)] = torch.tensor(e.target_mask, dtype=torch.float32)
    return {"input_ids": ids, "attention_mask": attention, "target_mask": target}


def on_device(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    """The batch's tensors on the model's device (training and attribution run where the model is)."""
    return {k: v.to(device) for k, v in batch.items()}


def batches(examples: Sequence[Any], size: int, steps: int, rng: random.Random) -> list[list[Any]]:
    """`steps` batches drawn epoch by epoch from a seeded shuffle (each example once per epoch)."""
    if not examples:
        raise CrossriskError("no training examples")
    order: list[Any] = []
    out = []
    for _ in range(steps):
        batch = []
        while len(batch) < min(size, len(examples)):
            if not order:
                order = list(examples)
                rng.shuffle(order)
            batch.append(order.pop())
        out.append(batch)
    return out
