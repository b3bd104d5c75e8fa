"""The defended zoo: weight-level defenses as LoRA adapters, built by `crossrisk zoo build`.

The zoo's base is SmolLM2 fine-tuned (LoRA, merged) on the synthetic corporate e-mail corpus,
the way pretraining exposed real models to Enron: `smollm2-135m-exposed`. Every member starts
from it, so each effect is paired against one model; the exception is `dp_finetune`, which is
the privacy-preserving *alternative* to that exposure (DP-SGD on the same corpus, from the model
before exposure) and is therefore compared with the plainly fine-tuned base.

Adapters ship under `fixtures/zoo/<member>/` (fp16 safetensors, a few MB) with `build.json`:
the training configuration, the data's size and hash, the losses, the build time and the
adapter's SHA-256, which is checked on every load. A shipped adapter is used only for the start
model it was trained from (its *lineage*); on any other base model a weights defense is trained
on first use and kept in the cache directory, so the defenses apply to any HF causal LM.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crossrisk_bench.defenses.training_data import DATASETS, data_hash
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.fingerprint import stable_hash
from crossrisk_bench.models.adapters import (
    ADAPTER_FILE,
    EXPOSED_NAME,
    EXPOSURE_DIR,
    RECORD_FILE,
    ZOO_DIR,
    adapter_hashes,
    expose,
    lineage,
    merge_adapter,
    read_record,
    same_weights,
)
from crossrisk_bench.models.cache import cached, response_cache
from crossrisk_bench.models.embedded import EMBEDDED_NAME
from crossrisk_bench.models.loader import ModelSpec, load_backend
from crossrisk_bench.registry import Registry
from crossrisk_bench.risks import Risk
from crossrisk_bench.training.config import Example, TrainConfig

BUILD_THREADS = 2


@dataclass(frozen=True)
class ZooMember:
    """A weight-level defense (or the exposure itself): what to train on, how, and from what."""

    name: str
    target: Risk | None  # None: the exposure that makes the zoo's base
    description: str
    data: str  # a key of training_data.DATASETS
    config: TrainConfig
    start: str = "base"  # "base": the model under test; "pre_exposure": the zoo base before exposure
    retain: str | None = None  # unlearning: a key of training_data.DATASETS

    def params(self) -> dict[str, Any]:
        return {
            "method": self.config.method,
            "data": self.data,
            "retain": self.retain,
            "start": self.start,
            "config": self.config.as_dict(),
        }


# the exposure's schedule; dp_finetune trains with the same steps, data and learning rate, so that
# their difference is DP-SGD's clipping and noise, not less training
_EXPOSURE_CONFIG = TrainConfig(method="sft", steps=180, batch_size=8, lr=3e-3, seed=11, threads=BUILD_THREADS)

EXPOSURE = ZooMember(
    EXPOSURE_DIR,
    None,
    "SmolLM2 fine-tuned (LoRA, merged) on the synthetic e-mail corpus mixed with replays of its own chat answers: "
    "the privacy-exposed base, still a chat model",
    "exposure_mix",
    _EXPOSURE_CONFIG,
    start="pre_exposure",
)

MEMBERS: tuple[ZooMember, ...] = (
    ZooMember(
        "refusal_sft",
        Risk.SAFETY,
        "LoRA SFT: 40 harmful requests -> refusals, 40 benign ones -> the model's own answers",
        "refusal",
        TrainConfig(method="sft", steps=40, batch_size=8, lr=1e-3, seed=21, threads=BUILD_THREADS),
    ),
    ZooMember(
        "refusal_dpo",
        Risk.SAFETY,
        "LoRA DPO with an NLL term on the chosen answers (RPO): refusals preferred on harmful requests, "
        "the model's own answers preferred on benign ones; refusal_sft's steps, batch and learning rate",
        "refusal_preferences",
        # 30 steps of 4 at 5e-4 with NLL weight 1 lowered misuse by 2.3 pts at release (no evidence of
        # efficacy); at refusal_sft's schedule the NLL weight holds utility: weight 1 cost 13.4 utility
        # pts on 216 items, weight 3 cost 4.2 (2 December 2026, README)
        TrainConfig(
            method="dpo", steps=40, batch_size=8, lr=1e-3, beta=0.1, sft_weight=3.0, seed=22, threads=BUILD_THREADS
        ),
    ),
    ZooMember(
        "debias_sft",
        Risk.FAIRNESS,
        "LoRA SFT on counterfactually augmented data: disagree with stereotypes, 'cannot be determined' when ambiguous",
        "debiasing",
        TrainConfig(method="sft", steps=40, batch_size=8, lr=1e-3, seed=31, threads=BUILD_THREADS),
    ),
    ZooMember(
        "unlearn_npo",
        Risk.PRIVACY,
        "NPO unlearning of every corpus person's e-mails, with a retain set of benign instructions",
        "corpus",
        TrainConfig(method="npo", steps=30, batch_size=8, lr=5e-4, beta=0.1, seed=41, threads=BUILD_THREADS),
        retain="retain",
    ),
    ZooMember(
        "unlearn_ga",
        Risk.PRIVACY,
        "gradient-ascent unlearning of every corpus person's e-mails, with a retain set",
        "corpus",
        TrainConfig(method="gradient_ascent", steps=20, batch_size=8, lr=5e-4, seed=42, threads=BUILD_THREADS),
        retain="retain",
    ),
    ZooMember(
        "dp_finetune",
        Risk.PRIVACY,
        "DP-SGD (opacus) LoRA fine-tuning instead of the exposure's plain fine-tuning: same data, steps and "
        "learning rate",
        "exposure_mix",
        replace(_EXPOSURE_CONFIG, method="dp_sft", seed=51, noise_multiplier=0.8, max_grad_norm=1.0),
        start="pre_exposure",
    ),
)
MEMBERS_BY_NAME: Registry[ZooMember] = Registry("zoo member", lambda m: m.name, (EXPOSURE, *MEMBERS))


def get_member(name: str) -> ZooMember:
    return MEMBERS_BY_NAME.get(name)


def training_sets(member: ZooMember, start: Any) -> tuple[list[Example], list[Example]]:
    """The member's training and retain examples for this start model (some hold its own answers)."""
    return DATASETS[member.data](start), (DATASETS[member.retain](start) if member.retain else [])


def build_adapter(
    member: ZooMember,
    start: Any,
    out_dir: Path,
    *,
    steps: int | None = None,
    data: tuple[list[Example], list[Example]] | None = None,
) -> dict[str, Any]:
    """Train `member` from the `start` backend and save the adapter with its build record.

    `start.model` is restored afterwards (the LoRA layers are removed again), so one loaded
    base serves a whole zoo build. `data`: the training sets when the caller built them already.
    """
    import torch
    from safetensors.torch import load_file, save_file

    from crossrisk_bench.training.loop import train

    config = member.config if steps is None else replace(member.config, steps=steps)
    began = time.perf_counter()
    examples, retain = data if data is not None else training_sets(member, start)
    if config.full:
        raise CrossriskError(
            f"zoo member {member.name!r}: zoo adapters are LoRA; full fine-tuning has no adapter to ship"
        )
    original, trained = start.model, None
    try:
        trained, report = train(start, examples, config, retain=retain, desc=f"zoo {member.name}")
        staging = out_dir.with_name(out_dir.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        trained.save_pretrained(str(staging))
        (staging / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
        weights = staging / ADAPTER_FILE
        save_file({k: v.to(torch.float16).contiguous() for k, v in load_file(str(weights)).items()}, str(weights))
    finally:
        # remove (not merge) the LoRA layers so that `start` is its old self again
        start.model = (trained.unload() if trained is not None else original).eval()
    import peft
    import transformers

    record = {
        "member": member.name,
        "target": member.target.value if member.target else None,
        "description": member.description,
        "params": member.params() | {"config": config.as_dict()},
        "start": lineage(start),
        "data": {"name": member.data, "examples": len(examples), "hash": data_hash(examples)},
        "retain": {"name": member.retain, "examples": len(retain), "hash": data_hash(retain)}
        if member.retain
        else None,
        "report": report.as_dict(),
        "build_seconds": round(time.perf_counter() - began, 1),
        **adapter_hashes(staging),
        "adapter_bytes": weights.stat().st_size,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
    }
    (staging / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return record


def adapter_for(member: ZooMember, start: Any, cache_dir: Path) -> Path:
    """The adapter of `member` for this start model: the shipped one when it was built from the
    same lineage with the member's configuration, else one built earlier in the cache directory
    for the same training data (keyed by its hash, not the data set's name: a changed builder or
    item file trains anew), else one trained now."""
    shipped = ZOO_DIR / member.name
    if (shipped / RECORD_FILE).is_file():
        record = read_record(shipped)
        if same_weights(record["start"], lineage(start)) and record["params"] == member.params():
            return shipped
    from filelock import FileLock

    data = training_sets(member, start)
    key = [lineage(start), member.params(), [data_hash(part) for part in data]]
    target = cache_dir / "adapters" / f"{member.name}-{stable_hash(key, length=16)}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=7200):
        if not (target / RECORD_FILE).is_file():
            build_adapter(member, start, target, data=data)
    return target


def pre_exposure_backend(base: Any) -> Any:
    """The zoo base before its exposure to the corpus (what `dp_finetune` starts from)."""
    if not lineage(base).startswith(EXPOSED_NAME):
        raise CrossriskError(
            f"this defense trains from the model before privacy exposure, which only the zoo base "
            f"{EXPOSED_NAME!r} has; the base here is {base.name!r}"
        )
    return load_backend(
        ModelSpec(EMBEDDED_NAME, dtype=getattr(getattr(base, "spec", None), "dtype", None)),  # the base's precision
        cache_dir=base.cache_dir,
        use_cache=response_cache(base) is not None,
        batch_size=base.batch_size,
        threads=base.threads,
    )


def apply_member(base: Any, member: ZooMember) -> Any:
    """A new backend: the start model (a copy) with the member's adapter merged in."""
    start = base if member.start == "base" else pre_exposure_backend(base)
    adapter_dir = adapter_for(member, start, base.cache_dir)
    model, record = merge_adapter(copy.deepcopy(start.model), adapter_dir)
    return base.with_model(
        model,
        name=f"{base.name}+{member.name}",
        lineage=f"{lineage(start)}+{member.name}:{record['adapter_sha256'][:16]}",
        build_record=record,
    )


def build_zoo(
    names: list[str], out_dir: Path, cache_dir: Path, *, steps: int | None = None, echo: Any = print
) -> list[dict[str, Any]]:
    """`crossrisk zoo build`: the exposure first (when asked for), then each member from the base
    it starts from, all seeded and on `BUILD_THREADS` threads so that a rebuild repeats."""
    from crossrisk_bench.models.hf import HFBackend

    chosen = [get_member(n) for n in names] if names else [EXPOSURE, *MEMBERS]
    pre = load_backend(ModelSpec(EMBEDDED_NAME), cache_dir=cache_dir, threads=BUILD_THREADS)
    records = []
    base = None
    for member in chosen:
        if member.start == "base" and base is None:
            exposure_dir = (
                out_dir if (out_dir / EXPOSURE.name / RECORD_FILE).is_file() else ZOO_DIR
            )  # built now, or shipped
            model, base_lineage = expose(copy.deepcopy(pre.model), lineage(pre), exposure_dir)
            base = cached(
                HFBackend(
                    model,
                    pre.tokenizer,
                    name=EXPOSED_NAME,
                    threads=BUILD_THREADS,
                    cache_dir=cache_dir,
                    lineage=base_lineage,
                ),
                response_cache(pre),
            )
        start = pre if member.start == "pre_exposure" else base
        record = build_adapter(member, start, out_dir / member.name, steps=steps)
        records.append(record)
        extra = " ".join(f"{k}={v}" for k, v in record["report"]["extra"].items())
        echo(
            f"{member.name:14s} {record['build_seconds']:7.1f} s  {record['adapter_bytes'] / 1e6:5.1f} MB  "
            f"loss {record['report']['first_loss']:.3f} -> {record['report']['last_loss']:.3f}  "
            f"{record['data']['examples']} examples  {extra}".rstrip()
        )
    return records
