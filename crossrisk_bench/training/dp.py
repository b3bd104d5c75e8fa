"""DP fine-tuning with opacus (DP-SGD, Abadi et al. 2016): the privacy-preserving alternative to
plain fine-tuning on the same corpus.

Each example's gradient is clipped to `max_grad_norm` and Gaussian noise of scale
`noise_multiplier * max_grad_norm` is added to the batch sum; batches are Poisson-sampled, as the
RDP accountant assumes, so the (epsilon, delta) it reports is a real guarantee for the training
examples (secure_mode stays off so that builds are seeded and repeatable; opacus's warning that
production training should use a cryptographic RNG applies). Only the LoRA weights train: opacus needs per-example gradients of trainable layers
only, so a frozen tied embedding is no obstacle. The data loader and the noise are seeded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.torch_state import forked_rng, torch_threads
from crossrisk_bench.progress import progress_bar
from crossrisk_bench.training.config import Example, TrainConfig, TrainReport
from crossrisk_bench.training.data import collate, encode
from crossrisk_bench.training.lora import wrap_trainable
from crossrisk_bench.training.losses import mean_nll


def train_dp(
    backend: Any, examples: Sequence[Example], config: TrainConfig, *, desc: str = "DP training"
) -> tuple[Any, TrainReport]:
    import warnings

    if config.full:
        raise CrossriskError("dp_sft trains a LoRA adapter; full=True is not supported with DP-SGD here")
    if not examples:
        raise CrossriskError("no training examples")
    start = time.perf_counter()
    # the thread count and the seed (wrap_trainable) are the training's own: the caller's are restored
    with torch_threads(config.threads), forked_rng():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Secure RNG turned off", category=UserWarning)
            warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
            model, losses, epsilon, trainable = _dp_steps(backend, examples, config, desc)
    report = TrainReport(
        config.method,
        config.steps,
        len(examples),
        losses[0],
        losses[-1],
        round(time.perf_counter() - start, 1),
        trainable,
        {
            "epsilon": round(epsilon, 3),
            "delta": config.delta,
            "noise_multiplier": config.noise_multiplier,
            "max_grad_norm": config.max_grad_norm,
            "sample_rate": config.batch_size / len(examples),
        },
    )
    return model, report


def _dp_steps(
    backend: Any, examples: Sequence[Example], config: TrainConfig, desc: str
) -> tuple[Any, list[float], float, int]:
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    padded = collate([encode(backend, e.prompt, e.target, config.max_tokens) for e in examples], backend.pad_id)
    dataset = TensorDataset(padded["input_ids"], padded["attention_mask"], padded["target_mask"])
    loader = DataLoader(dataset, batch_size=config.batch_size, generator=torch.Generator().manual_seed(config.seed))
    model = wrap_trainable(backend.model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    engine = PrivacyEngine(accountant="rdp")
    private, optimiser, loader = engine.make_private(
        module=model,
        optimizer=optimiser,
        data_loader=loader,
        noise_multiplier=config.noise_multiplier,
        max_grad_norm=config.max_grad_norm,
        poisson_sampling=True,
        noise_generator=torch.Generator(device=next(model.parameters()).device).manual_seed(config.seed + 1),
    )
    losses: list[float] = []
    steps = 0
    with progress_bar(config.steps, desc, unit="step") as bar:
        while steps < config.steps:
            for ids, attention, target in loader:
                if steps >= config.steps:
                    break
                if not len(ids):
                    continue  # an empty Poisson batch (probability ~e^-batch_size): nothing to step on
                loss = mean_nll(private, {"input_ids": ids, "attention_mask": attention, "target_mask": target})
                loss.backward()
                losses.append(float(loss.detach()))
                optimiser.step()
                optimiser.zero_grad(set_to_none=True)
                steps += 1
                bar.update(1)
    epsilon = float(engine.get_epsilon(config.delta))
    return private.to_standard_module().eval(), losses, epsilon, sum(p.numel() for p in params)
