"""One fine-tuning attack applied to one model: train (LoRA or full) on the attack's data from a
copy of the model's weights, merge, and answer like the model did (same tokenizer, cache, batch).

A LoRA attack's adapter is kept in the cache directory, keyed by the attacked model's lineage,
the run's full configuration and a hash of its training examples, so an interrupted durability run resumes without retraining, and
xdist workers that need the same attacked base train it once (a file lock).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from crossrisk_bench.defenses.training_data import data_hash
from crossrisk_bench.durability.attacks import AttackRun
from crossrisk_bench.durability.data import BUILDERS, relearn_texts
from crossrisk_bench.fingerprint import stable_hash
from crossrisk_bench.models.adapters import RECORD_FILE, adapter_hashes, lineage, merge_adapter
from crossrisk_bench.training.config import Example, TrainConfig


def attack_examples(run: AttackRun) -> list[Example]:
    return BUILDERS[run.attack.kind](run.attack.examples)


def attack_config(run: AttackRun, threads: int) -> TrainConfig:
    a = run.attack
    return TrainConfig(
        method="sft",
        steps=a.steps,
        batch_size=min(a.batch_size, a.examples),
        lr=run.lr,
        seed=run.seed,
        threads=threads,
        full=not a.lora,
        lora_r=a.lora_r,
        lora_alpha=2 * a.lora_r,
    )


def seen_texts(run: AttackRun) -> list[str]:
    """The evaluation-relevant texts the attack trained on (relearning: its corpus slice)."""
    return relearn_texts(run.attack.examples) if run.attack.kind == "relearn" else []


def attack_model(backend: Any, run: AttackRun, cache_dir: Path | None) -> tuple[Any, dict[str, Any]]:
    """`backend`'s model fine-tuned by `run`, as a new backend, and the record of the training."""
    from crossrisk_bench.training.loop import train

    threads = int(getattr(backend, "threads", 2) or 2)
    config = attack_config(run, threads)
    examples = attack_examples(run)
    name = f"{backend.name}~{run.id}"
    key = [config.as_dict(), run.attack.kind, data_hash(examples)]  # the examples too: their builder may change
    line = f"{lineage(backend)}~{run.id}:{stable_hash(key, length=12)}"
    target = None
    if cache_dir is not None and not config.full:
        target = Path(cache_dir) / "attacks" / stable_hash([line], length=20)
    if target is not None:
        from filelock import FileLock

        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock", timeout=7200):
            if not (target / RECORD_FILE).is_file():
                _train_and_save(backend, examples, config, target, train)
        model, record = merge_adapter(copy.deepcopy(backend.model), target)  # hash-checked
    else:
        clone = backend.with_model(copy.deepcopy(backend.model), name=name)
        trained, report = train(clone, examples, config, desc=f"attack {run.id}")
        model = trained.merge_and_unload().eval() if not config.full else trained.eval()
        record = {"report": report.as_dict()}
    record |= {"attack": run.attack.as_dict(), "run": run.id, "lr": run.lr, "seed": run.seed}
    return backend.with_model(model, name=name, lineage=line), record


def _train_and_save(backend: Any, examples: list[Example], config: TrainConfig, target: Path, train: Any) -> None:
    import shutil

    clone = backend.with_model(copy.deepcopy(backend.model), name=f"{backend.name}~attack")
    trained, report = train(clone, examples, config, desc=f"attack {target.name[:8]}")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    trained.save_pretrained(str(staging))
    (staging / "README.md").unlink(missing_ok=True)
    record = {"report": report.as_dict(), "config": config.as_dict()}
    record |= adapter_hashes(staging)
    (staging / RECORD_FILE).write_text(json.dumps(record) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
