"""Every command-line option, declared once as data.

The pytest plugin (`--crossrisk-limit`) and the `crossrisk` command (`--limit`) used to declare
the shared options twice, and the copies drifted (a limit of 0 accepted by one and refused by the
other, help naming different defaults). Here each option is one `Option`; `add_options` hands
them to pytest's `group.addoption` or argparse's `add_argument` with a prefix, as
pytest-benchmark's `add_display_options(addoption, prefix)` does. The stored attribute is
`crossrisk_<name>` on both surfaces, so one reader (`model_spec_from_options`) serves both.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from crossrisk_bench.config.profiles import DEFAULT_PROFILE, PROFILES
from crossrisk_bench.models.base import DEFAULT_BATCH_SIZE
from crossrisk_bench.models.cache import default_cache_dir
from crossrisk_bench.models.loader import DEFAULT_MODEL, ModelSpec, build_spec

PYTEST_PREFIX = "crossrisk-"  # --crossrisk-limit under pytest; the `crossrisk` command has no prefix

# model: the model under test (pytest, and `crossrisk prepare|generate|eval`)
# run: how tasks run (pytest, and the `crossrisk` commands that pick them by name)
# suite: the pytest run only (what the benchmark collects, reports and gates)
Surface = Literal["model", "run", "suite"]


def _positive_int(value: str) -> int:
    """An item count, batch size or run count: 0 would silently evaluate nothing."""
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


@dataclass(frozen=True)
class Option:
    """One option. `help` may name another option as `--{prefix}NAME`, spelled per surface."""

    name: str  # without prefix: "no-cache" is --crossrisk-no-cache under pytest, --no-cache in `crossrisk`
    help: str
    default: Any = None
    parse: Callable[[str], Any] | None = None  # argparse's `type`
    metavar: str | None = None  # every option taking a value has one (argparse would show CROSSRISK_NAME)
    action: Literal["store_true", "append"] | None = None  # a switch, or repeatable (default: a tuple)
    surface: Surface = "suite"

    @property
    def dest(self) -> str:
        """The attribute other code reads (`config.option.crossrisk_no_cache`, `args.crossrisk_no_cache`)."""
        return "crossrisk_" + self.name.replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option(
        "model",
        "base model: a known name, a local directory or a hub id (default: the models file's `base` in a "
        f"pytest run, else {DEFAULT_MODEL})",
        metavar="NAME",
        surface="model",
    ),
    Option("adapter", "PEFT/LoRA adapter directory applied on top of --{prefix}model", metavar="DIR", surface="model"),
    Option(
        "dtype",
        "float32, bfloat16 or float16 (default: float32 on CPU, bfloat16 on a GPU)",
        metavar="DTYPE",
        surface="model",
    ),
    Option(
        "device",
        "auto (default: a GPU where one exists, else the CPU), cpu, cuda or cuda:N",
        default="auto",
        metavar="DEVICE",
        surface="model",
    ),
    Option(
        "revision",
        "hub revision (commit, tag or branch) of a hub model, recorded in results",
        metavar="REV",
        surface="model",
    ),
    Option(
        "backend",
        "hf (default: load the model here) or openai (a model served behind an OpenAI-compatible "
        "API: vLLM, TGI, SGLang, llama.cpp, transformers serve)",
        default="hf",
        metavar="KIND",
        surface="model",
    ),
    Option(
        "base-url",
        "the server's base URL for --{prefix}backend openai, e.g. http://127.0.0.1:8000/v1",
        metavar="URL",
        surface="model",
    ),
    Option(
        "api-key-env",
        "environment variable holding the server's API key (the key is never written anywhere)",
        metavar="VAR",
        surface="model",
    ),
    Option(
        "concurrency",
        "requests in flight to a served model (default 8)",
        default=8,
        parse=_positive_int,
        metavar="N",
        surface="model",
    ),
    Option(
        "timeout",
        "timeout of one request to a served model (default 120)",
        default=120.0,
        parse=float,
        metavar="SECONDS",
        surface="model",
    ),
    Option(
        "tokenizer",
        "the served model's tokenizer (directory or hub id): lets log-likelihood tasks render "
        "chat prompts and send token ids",
        metavar="NAME",
        surface="model",
    ),
    Option(
        "profile",
        "; ".join(f"{p.name}: {p.description}" for p in PROFILES) + f" (default {DEFAULT_PROFILE})",
        default=DEFAULT_PROFILE,
        metavar="NAME",
        surface="run",
    ),
    Option(
        "allow-weaker-release",
        'let a policy\'s on_inconclusive = "warn" or --{prefix}limit weaken the release profile '
        "(without it they are a usage error; the report names the weakening)",
        default=False,
        action="store_true",
    ),
    Option(
        "warnings",
        "one PytestWarning per inconclusive cell where inconclusive cells warn (by default the summary "
        "counts them once, after the matrix)",
        default=False,
        action="store_true",
    ),
    Option(
        "limit",
        "evaluate at most N items per task (overrides the profile)",
        parse=_positive_int,
        metavar="N",
        surface="run",
    ),
    Option(
        "data",
        "evaluate a public dataset, or your own items for a task, instead of the task's embedded "
        "items (repeatable): bbq=../shared/data/bbq, misuse=my_items.jsonl (the item schema in the "
        "README), or a pinned hub dataset bbq=hf:ORG/NAME@REVISION; datasets: advbench harmbench "
        "xstest bbq crows_pairs stereoset decodingtrust_stereotype decodingtrust_enron",
        default=(),
        metavar="NAME=PATH",
        action="append",
    ),
    Option(
        "cache",
        "cache directory for responses and converted models (default: $CROSSRISK_CACHE_DIR, else "
        "$XDG_CACHE_HOME/crossrisk-bench, else ~/.cache/crossrisk-bench)",
        metavar="DIR",
        surface="run",
    ),
    Option(
        "no-cache",
        "do not read or write the response cache (models are still converted once)",
        default=False,
        action="store_true",
        surface="run",
    ),
    Option(
        "report",
        "write results.json, model-card.md, report.html and conflict-matrix.png into DIR",
        metavar="DIR",
    ),
    Option(
        "compare",
        "fail on regressions beyond the policy against a saved results.json of the previous release",
        metavar="RESULTS",
    ),
    Option("models", "defended models to compare with the base (default: fixtures/models.toml)", metavar="PATH"),
    Option(
        "policy",
        "tolerances and efficacy rule (default: fixtures/policy.toml; a pyproject.toml with [tool.crossrisk] works)",
        metavar="PATH",
    ),
    Option("seed", "seed for sampling and resampling (default 0)", default=0, parse=int, metavar="SEED", surface="run"),
    Option(
        "neurons",
        "also run the neuron-level analysis of weight defenses (benchmarks/test_neurons.py; minutes)",
        default=False,
        action="store_true",
    ),
    Option(
        "attacks",
        "also run the durability tests: attack every weights/checkpoint defense and the base with the "
        "fine-tuning attacks of FILE (e.g. fixtures/attacks.toml; marked durability; long)",
        metavar="FILE",
    ),
    Option(
        "perf",
        "also run the engine and task speed benchmarks (marked perf; also selected by -m perf)",
        default=False,
        action="store_true",
    ),
    Option(
        "judge",
        "judge choice (repeatable; `crossrisk judges` lists them): refusal=learned|keyword|embedding|string-match|llm, "
        "fulfilment=rules|llm (defaults: learned, rules; their validation in docs/judges.md)",
        default=(),
        metavar="KIND=NAME",
        action="append",
        surface="run",
    ),
    Option(
        "judge-model",
        "the model an llm judge asks (a known name, local directory or hub id)",
        metavar="NAME",
        surface="run",
    ),
    Option(
        "judge-validation",
        "a judge validation record (`crossrisk judge ... --write-validation FILE`): its sensitivity and "
        "specificity replace the shipped ones in the judge-corrected estimates",
        metavar="FILE",
    ),
    Option(
        "calibration",
        "also run the verdict calibration benchmarks (planted-regression power, sampled A/A; "
        "benchmarks/test_calibration.py; long)",
        default=False,
        action="store_true",
    ),
    Option(
        "faults",
        "also run the fault-injection benchmarks (benchmarks/test_faults.py: corrupt cache page, full disk, "
        "a failing server, duplicate ids; benchmarks/test_faults_run.py: SIGKILL and SIGINT, then resume; minutes)",
        default=False,
        action="store_true",
    ),
    Option(
        "aa-runs",
        "A/A runs of the calibration benchmark (N + 1 sampled answer sets; default 20)",
        default=20,
        parse=_positive_int,
        metavar="N",
    ),
    Option(
        "batch-size",
        f"rows decoded or scored together by the local engine (default {DEFAULT_BATCH_SIZE})",
        default=DEFAULT_BATCH_SIZE,
        parse=_positive_int,
        metavar="N",
    ),
    Option("threads", "torch threads per process (default: cores / xdist workers)", parse=_positive_int, metavar="N"),
)

BY_NAME: MappingProxyType[str, Option] = MappingProxyType({o.name: o for o in OPTIONS})
MODEL_OPTIONS: tuple[Option, ...] = tuple(o for o in OPTIONS if o.surface == "model")


def options(*names: str) -> tuple[Option, ...]:
    """The declared options of these names, in the order given (a typo is a KeyError)."""
    return tuple(BY_NAME[name] for name in names)


def flag(name: str, prefix: str = PYTEST_PREFIX) -> str:
    """How a user spells option `name` (`flag("limit")` is "--crossrisk-limit"), for messages."""
    return f"--{prefix}{BY_NAME[name].name}"


def add_options(addoption: Callable[..., Any], options: Iterable[Option], prefix: str) -> None:
    """Declare `options` through `addoption` (pytest's `group.addoption` or argparse's
    `add_argument`) as `--{prefix}{name}`, each stored as `Option.dest` whatever the prefix."""
    for option in options:
        attrs: dict[str, Any] = {
            "dest": option.dest,
            # a fresh list per parser: argparse appends to a copy, but no parser shares one with another
            "default": list(option.default) if option.action == "append" else option.default,
            "help": option.help.format(prefix=prefix),
        }
        if option.parse is not None:
            attrs["type"] = option.parse
        if option.metavar is not None:
            attrs["metavar"] = option.metavar
        if option.action is not None:
            attrs["action"] = option.action
        addoption(f"--{prefix}{option.name}", **attrs)


def model_spec_from_options(option: Any, model: str) -> ModelSpec:
    """The base model's `ModelSpec` (local, hub or served) from either surface's parsed options."""
    return build_spec(
        model,
        adapter=option.crossrisk_adapter,
        dtype=option.crossrisk_dtype,
        revision=option.crossrisk_revision,
        device=option.crossrisk_device,
        backend=option.crossrisk_backend,
        base_url=option.crossrisk_base_url,
        api_key_env=option.crossrisk_api_key_env,
        concurrency=option.crossrisk_concurrency,
        timeout=option.crossrisk_timeout,
        tokenizer=option.crossrisk_tokenizer,
    )


def cache_dir_from_options(option: Any) -> Path:
    """The cache directory `--cache`/`--crossrisk-cache` names, else the default one."""
    return Path(option.crossrisk_cache).expanduser() if option.crossrisk_cache else default_cache_dir()


# what runs only when asked: marker, what it runs, the option that selects it (else `-m MARKER`)
OPT_IN = (
    ("perf", "speed benchmark", "perf"),
    ("neurons", "neuron analysis", "neurons"),
    ("calibration", "verdict calibration", "calibration"),
    ("faults", "fault injection", "faults"),
    ("durability", "fine-tuning attacks", "attacks"),
)


def marker_selected(markexpr: str | None, marker: str) -> bool:
    """Whether a `-m` expression selects `marker` (and does not exclude it)."""
    return marker in (markexpr or "") and f"not {marker}" not in (markexpr or "")


def opt_in_skips(option: Any) -> dict[str, str]:
    """marker -> skip reason, for each opt-in marker that pytest's parsed `option` did not ask for."""
    skips = {}
    for marker, what, name in OPT_IN:
        chosen = BY_NAME[name]
        if not getattr(option, chosen.dest, None) and not marker_selected(option.markexpr, marker):
            spelled = " ".join(filter(None, (flag(chosen.name), chosen.metavar)))
            skips[marker] = f"{what}: run with {spelled} or -m {marker}"
    return skips


def named_in(args: Iterable[str], addopts: Iterable[str]) -> bool:
    """Whether pytest's arguments, its ini `addopts` or `$PYTEST_ADDOPTS` name a crossrisk option
    (the plugin then reads its settings at once)."""
    given = [*args, *addopts, *shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))]
    return any(str(a).startswith("--" + PYTEST_PREFIX) for a in given)
