"""Weight-level defenses: fine-tuning the suite performs itself, on any HF causal LM.

One seeded training loop serves every method; only the loss differs:
- `sft`: supervised fine-tuning on (prompt, target) pairs, loss on the target tokens only
  (refusal tuning, debiasing, and the plain fine-tuning that exposes the base to the corpus);
- `dpo`: direct preference optimisation on (prompt, chosen, rejected) triples (Rafailov et al.
  2023), the reference being the same model with the adapter switched off;
- `gradient_ascent` and `npo`: unlearning a forget set while a retain set keeps the model
  useful (`crossrisk_bench.defenses.unlearn`);
- `dp_sft`: DP-SGD with opacus (`crossrisk_bench.defenses.dp`).

LoRA is the default (a few MB to ship); `full=True` trains every weight. Everything that shapes
the result is in `TrainConfig` and is recorded with the adapter; with a fixed seed and thread
count two builds give the same weights.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import Prompt
from crossrisk_bench.progress import progress_bar

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


def dpo_loss(model: Any, chosen: dict[str, Any], rejected: dict[str, Any], beta: float) -> Any:
    """-log sigmoid(beta * (chosen margin - rejected margin)) against the reference model."""
    import torch

    margin_c = sequence_logprobs(model, chosen)[0] - reference_logprobs(model, chosen)
    margin_r = sequence_logprobs(model, rejected)[0] - reference_logprobs(model, rejected)
    return -torch.nn.functional.logsigmoid(beta * (margin_c - margin_r)).mean()


@contextmanager
def quiet_peft() -> Iterator[None]:
    """peft calls a transformers method deprecated in v5; its FutureWarning says nothing to users."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


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
        from crossrisk_bench.defenses.dp import train_dp

        return train_dp(backend, examples, config, desc=desc)
    if config.method in ("gradient_ascent", "npo") and not retain:
        raise CrossriskError(f"{config.method} needs a retain set")
    if config.method == "dpo" and any(e.rejected is None for e in examples):
        raise CrossriskError("dpo needs a rejected answer for every example")
    if config.full and config.method in ("dpo", "npo"):
        raise CrossriskError(
            f"{config.method} uses the adapter-free model as its reference; it needs LoRA (full=False)"
        )
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    start = time.perf_counter()
    try:
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
    finally:
        torch.set_num_threads(previous_threads)
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
        return lambda model, batch, step: dpo_loss(model, enc(batch), enc(batch, "rejected"), config.beta)
    from crossrisk_bench.defenses.unlearn import unlearning_loss

    retain_batches = batches(list(retain), config.batch_size, config.steps, random.Random(config.seed + 1))
    return lambda model, batch, step: unlearning_loss(
        model,
        enc(batch),
        enc(retain_batches[step]),
        method=config.method,
        beta=config.beta,
        retain_weight=config.retain_weight,
    )
