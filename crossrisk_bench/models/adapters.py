"""Adapters merged into models: the zoo's shipped LoRA adapters (hash-checked against their build
record), the exposure that makes the zoo's base, and lineage, a model's identity that is stable
across machines. Here in `models/` because loading the zoo's base needs them; the zoo's members
and how they are built live in `defenses/zoo.py`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.paths import FIXTURES

ZOO_DIR = FIXTURES / "zoo"
ADAPTER_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"  # rank, alpha, target modules: a merge reads it as much as the weights
RECORD_FILE = "build.json"
EXPOSED_NAME = "smollm2-135m-exposed"  # the zoo's base: SmolLM2 with the exposure adapter merged
EXPOSURE_DIR = "exposed"  # the exposure adapter's folder under the zoo


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def adapter_hashes(adapter_dir: Path) -> dict[str, str]:
    """What a build record pins: the hashes of every file a merge reads (the weights and the
    adapter's config), so that editing either is caught on load."""
    return {
        "adapter_sha256": file_sha256(adapter_dir / ADAPTER_FILE),
        "adapter_config_sha256": file_sha256(adapter_dir / CONFIG_FILE),
    }


def read_record(adapter_dir: Path) -> dict[str, Any]:
    """The build record of an adapter, after checking that the files a merge reads are the ones built."""
    record_path = adapter_dir / RECORD_FILE
    if not record_path.is_file() or not all((adapter_dir / f).is_file() for f in (ADAPTER_FILE, CONFIG_FILE)):
        raise CrossriskError(
            f"{adapter_dir} is not a built zoo adapter (needs {ADAPTER_FILE}, {CONFIG_FILE} and {RECORD_FILE}); "
            "run `crossrisk zoo build`"
        )
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError as exc:
        raise CrossriskError(f"{record_path}: not valid JSON ({exc})") from None
    for key, actual in adapter_hashes(adapter_dir).items():
        if actual != record.get(key):
            name = ADAPTER_FILE if key == "adapter_sha256" else CONFIG_FILE
            raise CrossriskError(
                f"{adapter_dir / name}: content hash {actual[:12]} does not match the build record "
                f"({str(record.get(key))[:12]}); the adapter changed since it was built - "
                "rebuild it with `crossrisk zoo build`"
            )
    return record


def merge_adapter(model: Any, adapter_dir: Path) -> tuple[Any, dict[str, Any]]:
    """`model` with the LoRA adapter merged into its weights, and the adapter's (hash-checked) build record."""
    from peft import PeftModel

    record = read_record(adapter_dir)
    with quiet_peft():
        return PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload().eval(), record


def expose(model: Any, start_lineage: str, zoo_dir: Path = ZOO_DIR) -> tuple[Any, str]:
    """The zoo base: `model` (SmolLM2 before exposure) with the exposure adapter merged, and its lineage."""
    merged, record = merge_adapter(model, zoo_dir / EXPOSURE_DIR)
    return merged, f"{EXPOSED_NAME}:{start_lineage}+{EXPOSURE_DIR}:{record['adapter_sha256'][:16]}"


def same_weights(a: str, b: str) -> bool:
    """Two lineages name the same weights, whatever precision each was loaded in: an adapter
    trained on the float32 model applies to its bfloat16 copy (the fast path), so the shipped
    zoo is merged, not retrained, when a run chooses another dtype."""
    return _PRECISION.sub("", a) == _PRECISION.sub("", b)


_PRECISION = re.compile(r":(?:float32|bfloat16|float16)(?=$|\+)")


def lineage(backend: Any) -> str:
    """What a model is, stably across machines: a known model's source plus the adapters merged
    into it (merged weights can differ in the last bit between CPUs; this cannot)."""
    return getattr(backend, "lineage", None) or backend.fingerprint


@contextmanager
def quiet_peft() -> Iterator[None]:
    """peft calls a transformers method deprecated in v5; its FutureWarning says nothing to users."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield
