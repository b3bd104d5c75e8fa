"""Shared fixtures: a tiny model built once per session, and backends on it."""

from __future__ import annotations

import os

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")  # tests never reach a hub (a bad id would retry for ~23 s)

from pathlib import Path  # noqa: E402

import numpy  # noqa: F401, E402  loaded once here: pytester's in-process runs unload modules they imported, and numpy cannot load twice
import pytest  # noqa: E402

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from crossrisk_bench.models.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture
def make_backend(tiny_dir: Path, tmp_path: Path):
    """Build an HFBackend on the tiny model; `cache=True` (or a file) wraps it in a CachedBackend
    with a fresh cache in tmp_path (or that file)."""
    from crossrisk_bench.models.cache import CachedBackend, ResponseCache
    from crossrisk_bench.models.loader import ModelSpec, load_backend

    def make(*, cache: bool | Path = False, batch_size: int = 4, **kwargs):
        backend = load_backend(
            ModelSpec(str(tiny_dir)), cache_dir=tmp_path, use_cache=False, batch_size=batch_size, threads=1, **kwargs
        )
        if cache:
            return CachedBackend(
                backend, ResponseCache(cache if isinstance(cache, Path) else tmp_path / "responses.sqlite")
            )
        return backend

    return make
