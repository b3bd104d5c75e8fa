"""The pytest plugin (entry point `pytest11: crossrisk`): options, markers, fixtures, header.

Kept light on purpose: nothing here imports torch or transformers at import, configure or
collection time, so `pytest --help` and `pytest --collect-only` stay fast; the model loads the
first time a test asks for the `crossrisk_backend` fixture. Settings live on `config.stash`
(one value per session, no process-global state).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.loaders import parse_data_option
from crossrisk_bench.models.cache import default_cache_dir
from crossrisk_bench.models.loader import DEFAULT_MODEL, ModelSpec, resolve
from crossrisk_bench.risks import MARKERS
from crossrisk_bench.tasks.profiles import items_limit


@dataclass(frozen=True)
class CrossriskSettings:
    """Everything the command line said about this run, validated."""

    model: ModelSpec
    cache_dir: Path
    use_cache: bool
    limit: int | None  # items per task, from --crossrisk-limit or the profile
    profile: str
    data: tuple[tuple[str, str], ...]  # (dataset name, path) pairs replacing embedded items
    report_dir: Path | None
    seed: int
    batch_size: int
    threads: int | None


settings_key = pytest.StashKey[CrossriskSettings]()


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crossrisk", "crossrisk-bench: cross-risk evaluation of LLM defenses")
    group.addoption("--crossrisk-model", default=DEFAULT_MODEL, metavar="NAME",
                    help=f"base model: a known name, a local directory or a hub id (default: {DEFAULT_MODEL})")
    group.addoption("--crossrisk-adapter", default=None, metavar="DIR",
                    help="PEFT/LoRA adapter directory applied on top of --crossrisk-model")
    group.addoption("--crossrisk-dtype", default="float32", metavar="DTYPE", help="float32 (default), bfloat16 or float16")
    group.addoption("--crossrisk-profile", default="quick", metavar="NAME",
                    help="quick (default: 12 balanced items per task) or full (every embedded item)")
    group.addoption("--crossrisk-limit", type=_positive_int, default=None, metavar="N",
                    help="evaluate at most N items per task (overrides the profile)")
    group.addoption("--crossrisk-data", action="append", default=[], metavar="NAME=PATH",
                    help="evaluate a public dataset instead of the task's embedded items (repeatable), "
                         "e.g. bbq=../shared/data/bbq; names: advbench harmbench xstest bbq crows_pairs "
                         "stereoset decodingtrust_stereotype decodingtrust_enron")
    group.addoption("--crossrisk-cache", default=None, metavar="DIR",
                    help="cache directory for responses and converted models (default: $CROSSRISK_CACHE_DIR or ~/.cache/crossrisk-bench)")
    group.addoption("--crossrisk-no-cache", action="store_true", default=False,
                    help="do not read or write the response cache (models are still converted once)")
    group.addoption("--crossrisk-report", default=None, metavar="DIR", help="write the run's report files into DIR")
    group.addoption("--crossrisk-seed", type=int, default=0, metavar="SEED", help="seed for sampling and resampling (default 0)")
    group.addoption("--crossrisk-batch-size", type=_positive_int, default=16, metavar="N", help="prompts per forward batch (default 16)")
    group.addoption("--crossrisk-threads", type=_positive_int, default=None, metavar="N",
                    help="torch threads per process (default: cores / xdist workers)")


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    if not hasattr(config.option, "crossrisk_model"):
        return  # plugin loaded without its options (e.g. inside a pytester run that blocks it)
    spec = ModelSpec(model=config.option.crossrisk_model, adapter=config.option.crossrisk_adapter,
                     dtype=config.option.crossrisk_dtype)
    try:
        resolve(spec)
        limit = items_limit(config.option.crossrisk_profile, config.option.crossrisk_limit)
        data = tuple(parse_data_option(value) for value in config.option.crossrisk_data)
    except CrossriskError as exc:
        raise pytest.UsageError(f"crossrisk: {exc}") from None
    cache = config.option.crossrisk_cache
    report = config.option.crossrisk_report
    config.stash[settings_key] = CrossriskSettings(
        model=spec,
        cache_dir=Path(cache).expanduser() if cache else default_cache_dir(),
        use_cache=not config.option.crossrisk_no_cache,
        limit=limit,
        profile=config.option.crossrisk_profile,
        data=data,
        report_dir=Path(report).expanduser() if report else None,
        seed=config.option.crossrisk_seed,
        batch_size=config.option.crossrisk_batch_size,
        threads=config.option.crossrisk_threads,
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(settings_key, None)
    if settings is None:
        return []
    model = settings.model.model + (f" + adapter {settings.model.adapter}" if settings.model.adapter else "")
    cache = f"{settings.cache_dir / 'responses.sqlite'}" if settings.use_cache else "off (--crossrisk-no-cache)"
    items = "all" if settings.limit is None else settings.limit
    return [f"crossrisk: model={model} backend=hf dtype={settings.model.dtype} cache={cache}",
            f"crossrisk: profile={settings.profile} items per task={items} seed={settings.seed}"]


@pytest.fixture(scope="session")
def crossrisk_settings(pytestconfig: pytest.Config) -> CrossriskSettings:
    settings = pytestconfig.stash.get(settings_key, None)
    if settings is None:
        pytest.fail("crossrisk plugin is not configured", pytrace=False)
    return settings


@pytest.fixture(scope="session")
def crossrisk_task_items(crossrisk_settings: CrossriskSettings) -> Any:
    """`items(task_name)`: the items a task evaluates in this run (a `--crossrisk-data` dataset
    mapped to that task, else the embedded items), before the profile's limit."""
    from crossrisk_bench.loaders import LOADERS, load_dataset_items
    from crossrisk_bench.tasks import TASKS

    def items(task_name: str) -> list:
        chosen = [(name, path) for name, path in crossrisk_settings.data if LOADERS[name].task == task_name]
        try:
            if not chosen:
                return TASKS.get(task_name).load_items()
            return [item for name, path in chosen for item in load_dataset_items(name, path)[1]]
        except CrossriskError as exc:
            pytest.fail(f"crossrisk: {exc}", pytrace=False)

    return items


@pytest.fixture(scope="session")
def crossrisk_backend(crossrisk_settings: CrossriskSettings) -> Any:
    """The base model as a `Backend`, loaded once per session (per xdist worker)."""
    from crossrisk_bench.models.loader import load_backend

    try:
        backend = load_backend(
            crossrisk_settings.model,
            cache_dir=crossrisk_settings.cache_dir,
            use_cache=crossrisk_settings.use_cache,
            batch_size=crossrisk_settings.batch_size,
            threads=crossrisk_settings.threads,
        )
    except CrossriskError as exc:
        pytest.fail(f"crossrisk: {exc}", pytrace=False)
    yield backend
    if backend.cache is not None:
        backend.cache.close()
