"""Weight-level defenses: fine-tuning the suite performs itself, on any HF causal LM.

One seeded training loop serves every method; only the loss differs:
- `sft`: supervised fine-tuning on (prompt, target) pairs, loss on the target tokens only
  (refusal tuning, debiasing, and the plain fine-tuning that exposes the base to the corpus);
- `dpo`: direct preference optimisation on (prompt, chosen, rejected) triples (Rafailov et al.
  2023), the reference being the same model with the adapter switched off;
- `gradient_ascent` and `npo`: unlearning a forget set while a retain set keeps the model
  useful (`crossrisk_bench.training.losses`);
- `dp_sft`: DP-SGD with opacus (`crossrisk_bench.training.dp`).

LoRA is the default (a few MB to ship); `full=True` trains every weight. Everything that shapes
the result is in `TrainConfig` and is recorded with the adapter; with a fixed seed and thread
count two builds give the same weights.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.torch_state import forked_rng, torch_threads
from crossrisk_bench.progress import progress_bar
from crossrisk_bench.training.config import Example, TrainConfig, TrainReport
from crossrisk_bench.training.data import batches, collate, encode
from crossrisk_bench.training.dp import train_dp
from crossrisk_bench.training.lora import wrap_trainable
from crossrisk_bench.training.losses import dpo_loss, mean_nll, unlearning_loss

StepLoss = Callable[[Any, list[Example], int], Any]


def train(
    backend: Any,
    examples: Sequence[Example],
    config: TrainConfig,
    *,
    retain: Sequence[Example] = (),
    desc: str = "training",
) -> tuple[Any, TrainReport]:
    """Train `backend.model` in place with `config.method`; return the trained (peft) model and a report.

    The backend's model object is modified (LoRA layers are injected); callers that need the
    original keep their own copy. `retain` is used by the unlearning methods.
    """
    import torch

    if config.method == "dp_sft":
        return train_dp(backend, examples, config, desc=desc)
    if config.method in ("gradient_ascent", "npo") and not retain:
        raise CrossriskError(f"{config.method} needs a retain set")
    if config.method == "dpo" and any(e.rejected is None for e in examples):
        raise CrossriskError("dpo needs a rejected answer for every example")
    if config.full and config.method in ("dpo", "npo"):
        raise CrossriskError(
            f"{config.method} uses the adapter-free model as its reference; it needs LoRA (full=False)"
        )
    start = time.perf_counter()
    # the thread count and the seed (wrap_trainable) are the training's own: the caller's are restored
    with torch_threads(config.threads), forked_rng():
        model = wrap_trainable(backend.model, config)
        step_loss = _step_loss(backend, config, retain)
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
        rng = random.Random(config.seed)
        losses = []
        with progress_bar(config.steps, desc, unit="step") as bar:
            for step, batch in enumerate(batches(list(examples), config.batch_size, config.steps, rng)):
                loss = step_loss(model, batch, step)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimiser.step()
                optimiser.zero_grad(set_to_none=True)
                losses.append(float(loss.detach()))
                bar.update(1)
        model.eval()
    report = TrainReport(
        config.method,
        config.steps,
        len(examples),
        losses[0],
        losses[-1],
        round(time.perf_counter() - start, 1),
        sum(p.numel() for p in params),
    )
    return model, report


def _step_loss(backend: Any, config: TrainConfig, retain: Sequence[Example]) -> StepLoss:
    pad = backend.pad_id

    def enc(items: Sequence[Example], which: str = "target") -> dict[str, Any]:
        return collate([encode(backend, e.prompt, getattr(e, which), config.max_tokens) for e in items], pad)

    if config.method == "sft":
        return lambda model, batch, step: mean_nll(model, enc(batch))
    if config.method == "dpo":
        return lambda model, batch, step: dpo_loss(
            model, enc(batch), enc(batch, "rejected"), config.beta, config.sft_weight
        )
    retain_batches = batches(list(retain), config.batch_size, config.steps, random.Random(config.seed + 1))
    return lambda model, batch, step: unlearning_loss(
        model,
        enc(batch),
        enc(retain_batches[step]),
        method=config.method,
        beta=config.beta,
        retain_weight=config.retain_weight,
    )
