"""LoRA (or full) trainable models, seeded; peft's deprecation noise kept out of users' logs."""

from __future__ import annotations

from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.adapters import quiet_peft
from crossrisk_bench.training.config import TrainConfig


def wrap_trainable(model: Any, config: TrainConfig) -> Any:
    """A LoRA-wrapped model (or the model itself for full fine-tuning), seeded."""
    import torch

    torch.manual_seed(config.seed)
    if config.full:
        model.train()
        return model
    from peft import LoraConfig, get_peft_model

    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    modules = [m for m in config.target_modules if m in present]
    if not modules:
        raise CrossriskError(f"none of the LoRA target modules {list(config.target_modules)} exist in this model")
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,
        target_modules=modules,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with quiet_peft():
        peft_model = get_peft_model(model, lora)
    peft_model.train()
    return peft_model
