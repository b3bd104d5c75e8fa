"""The pytest plugin (entry point `pytest11: crossrisk`): options, markers, hooks and fixtures.

Dormant until used, as Hypothesis's plugin is: installing the suite must not change another
project's test runs. At import and configure time it registers options and markers only
(nothing heavy imported, no file read). The run's settings (models file, policy, profile) are
read the first time they are needed: at once when a `--crossrisk-*` option is given (so a bad
option is one usage error), else when a test uses a crossrisk fixture. The model loads the
first time a test asks for it. Settings live on `config.stash` (no process-global state); what
the hooks and fixtures do is in the modules they call (`settings`, `session`,
`verdict.gate`, `report.collect`, `report.run_summary`).
"""

from __future__ import annotations

import os
import shlex
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from crossrisk_bench.config.profiles import PROFILES
from crossrisk_bench.errors import CrossriskError, Fatal, Unsupported
from crossrisk_bench.models.base import DEFAULT_BATCH_SIZE
from crossrisk_bench.risks import MARKERS

if TYPE_CHECKING:
    from crossrisk_bench.session import SuiteSession
    from crossrisk_bench.settings import Settings


# Option names, defined once (messages and tests refer to these, not to copies of the strings)
OPTION_PREFIX = "--crossrisk"
OPT_AA_RUNS = "--crossrisk-aa-runs"
OPT_ADAPTER = "--crossrisk-adapter"
OPT_ALLOW_WEAKER_RELEASE = "--crossrisk-allow-weaker-release"
OPT_WARNINGS = "--crossrisk-warnings"
OPT_API_KEY_ENV = "--crossrisk-api-key-env"
OPT_BACKEND = "--crossrisk-backend"
OPT_ATTACKS = "--crossrisk-attacks"
OPT_BASE_URL = "--crossrisk-base-url"
OPT_BATCH_SIZE = "--crossrisk-batch-size"
OPT_CACHE = "--crossrisk-cache"
OPT_CALIBRATION = "--crossrisk-calibration"
OPT_COMPARE = "--crossrisk-compare"
OPT_CONCURRENCY = "--crossrisk-concurrency"
OPT_DATA = "--crossrisk-data"
OPT_DEVICE = "--crossrisk-device"
OPT_DTYPE = "--crossrisk-dtype"
OPT_FAULTS = "--crossrisk-faults"
OPT_JUDGE = "--crossrisk-judge"
OPT_JUDGE_MODEL = "--crossrisk-judge-model"
OPT_JUDGE_VALIDATION = "--crossrisk-judge-validation"
OPT_LIMIT = "--crossrisk-limit"
OPT_MODEL = "--crossrisk-model"
OPT_MODELS = "--crossrisk-models"
OPT_NEURONS = "--crossrisk-neurons"
OPT_NO_CACHE = "--crossrisk-no-cache"
OPT_PERF = "--crossrisk-perf"
OPT_POLICY = "--crossrisk-policy"
OPT_PROFILE = "--crossrisk-profile"
OPT_REPORT = "--crossrisk-report"
OPT_REVISION = "--crossrisk-revision"
OPT_SEED = "--crossrisk-seed"
OPT_THREADS = "--crossrisk-threads"
OPT_TIMEOUT = "--crossrisk-timeout"
OPT_TOKENIZER = "--crossrisk-tokenizer"

settings_key = pytest.StashKey["Settings"]()
session_key = pytest.StashKey["SuiteSession"]()
collector_key = pytest.StashKey["Collector"]()
completeness_key = pytest.StashKey[Any]()  # Completeness of the run, set at session finish
OPT_IN = (  # marker, what it runs, the option that selects it
    ("perf", "speed benchmark", OPT_PERF),
    ("neurons", "neuron analysis", OPT_NEURONS),
    ("calibration", "verdict calibration", OPT_CALIBRATION),
    ("faults", "fault injection", OPT_FAULTS),
    ("durability", "fine-tuning attacks", OPT_ATTACKS),
)


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crossrisk", "crossrisk-bench: cross-risk evaluation of LLM defenses")
    from crossrisk_bench.models.loader import DEFAULT_MODEL

    group.addoption(
        OPT_MODEL,
        default=None,
        metavar="NAME",
        help="base model: a known name, a local directory or a hub id (default: the models file's "
        f"`base`, else {DEFAULT_MODEL})",
    )
    group.addoption(
        OPT_ADAPTER,
        default=None,
        metavar="DIR",
        help="PEFT/LoRA adapter directory applied on top of --crossrisk-model",
    )
    group.addoption(
        OPT_DTYPE,
        default=None,
        metavar="DTYPE",
        help="float32, bfloat16 or float16 (default: float32 on CPU, bfloat16 on a GPU)",
    )
    group.addoption(
        OPT_DEVICE,
        default="auto",
        metavar="DEVICE",
        help="auto (default: a GPU where one exists, else the CPU), cpu, cuda or cuda:N",
    )
    group.addoption(
        OPT_REVISION,
        default=None,
        metavar="REV",
        help="hub revision (commit, tag or branch) of a hub model, recorded in results",
    )
    group.addoption(
        OPT_BACKEND,
        default="hf",
        metavar="KIND",
        help="hf (default: load the model here) or openai (a model served behind an OpenAI-compatible "
        "API: vLLM, TGI, SGLang, llama.cpp, transformers serve)",
    )
    group.addoption(
        OPT_BASE_URL,
        default=None,
        metavar="URL",
        help="the server's base URL for --crossrisk-backend openai, e.g. http://127.0.0.1:8000/v1",
    )
    group.addoption(
        OPT_API_KEY_ENV,
        default=None,
        metavar="VAR",
        help="environment variable holding the server's API key (the key is never written anywhere)",
    )
    group.addoption(
        OPT_CONCURRENCY,
        type=_positive_int,
        default=8,
        metavar="N",
        help="requests in flight to a served model (default 8)",
    )
    group.addoption(
        OPT_TIMEOUT,
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="timeout of one request to a served model (default 120)",
    )
    group.addoption(
        OPT_TOKENIZER,
        default=None,
        metavar="NAME",
        help="the served model's tokenizer (directory or hub id): lets log-likelihood tasks render "
        "chat prompts and send token ids",
    )
    group.addoption(
        OPT_PROFILE,
        default="quick",
        metavar="NAME",
        help="; ".join(f"{p.name}: {p.description}" for p in PROFILES) + " (default quick)",
    )
    group.addoption(
        OPT_ALLOW_WEAKER_RELEASE,
        action="store_true",
        default=False,
        help='let a policy\'s on_inconclusive = "warn" or --crossrisk-limit weaken the release profile '
        "(without it they are a usage error; the report names the weakening)",
    )
    group.addoption(
        OPT_WARNINGS,
        action="store_true",
        default=False,
        help="one PytestWarning per inconclusive cell where inconclusive cells warn (by default the summary "
        "counts them once, after the matrix)",
    )
    group.addoption(
        OPT_LIMIT,
        type=_positive_int,
        default=None,
        metavar="N",
        help="evaluate at most N items per task (overrides the profile)",
    )
    group.addoption(
        OPT_DATA,
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="evaluate a public dataset, or your own items for a task, instead of the task's embedded "
        "items (repeatable): bbq=../shared/data/bbq, misuse=my_items.jsonl (the item schema in the "
        "README), or a pinned hub dataset bbq=hf:ORG/NAME@REVISION; datasets: advbench harmbench "
        "xstest bbq crows_pairs stereoset decodingtrust_stereotype decodingtrust_enron",
    )
    group.addoption(
        OPT_CACHE,
        default=None,
        metavar="DIR",
        help="cache directory for responses and converted models (default: $CROSSRISK_CACHE_DIR or ~/.cache/crossrisk-bench)",
    )
    group.addoption(
        OPT_NO_CACHE,
        action="store_true",
        default=False,
        help="do not read or write the response cache (models are still converted once)",
    )
    group.addoption(
        OPT_REPORT,
        default=None,
        metavar="DIR",
        help="write results.json, model-card.md, report.html and conflict-matrix.png into DIR",
    )
    group.addoption(
        OPT_COMPARE,
        default=None,
        metavar="RESULTS",
        help="fail on regressions beyond the policy against a saved results.json of the previous release",
    )
    group.addoption(
        OPT_MODELS,
        default=None,
        metavar="PATH",
        help="defended models to compare with the base (default: fixtures/models.toml)",
    )
    group.addoption(
        OPT_POLICY,
        default=None,
        metavar="PATH",
        help="tolerances and efficacy rule (default: fixtures/policy.toml; a pyproject.toml with [tool.crossrisk] works)",
    )
    group.addoption(OPT_SEED, type=int, default=0, metavar="SEED", help="seed for sampling and resampling (default 0)")
    group.addoption(
        OPT_NEURONS,
        action="store_true",
        default=False,
        help="also run the neuron-level analysis of weight defenses (benchmarks/test_neurons.py; minutes)",
    )
    group.addoption(
        OPT_ATTACKS,
        default=None,
        metavar="FILE",
        help="also run the durability tests: attack every weights/checkpoint defense and the base with the "
        "fine-tuning attacks of FILE (e.g. fixtures/attacks.toml; marked durability; long)",
    )
    group.addoption(
        OPT_PERF,
        action="store_true",
        default=False,
        help="also run the engine and task speed benchmarks (marked perf; also selected by -m perf)",
    )
    group.addoption(
        OPT_JUDGE,
        action="append",
        default=[],
        metavar="KIND=NAME",
        help="judge choice (repeatable): refusal=learned|keyword|embedding|llm, fulfilment=rules|llm "
        "(defaults: learned, rules; their validation in docs/judges.md)",
    )
    group.addoption(
        OPT_JUDGE_MODEL,
        default=None,
        metavar="NAME",
        help="the model an llm judge asks (a known name, local directory or hub id)",
    )
    group.addoption(
        OPT_JUDGE_VALIDATION,
        default=None,
        metavar="FILE",
        help="a judge validation record (`crossrisk judge ... --write-validation FILE`): its sensitivity and "
        "specificity replace the shipped ones in the judge-corrected estimates",
    )
    group.addoption(
        OPT_CALIBRATION,
        action="store_true",
        default=False,
        help="also run the verdict calibration benchmarks (planted-regression power, sampled A/A; "
        "benchmarks/test_calibration.py; long)",
    )
    group.addoption(
        OPT_FAULTS,
        action="store_true",
        default=False,
        help="also run the fault-injection benchmarks (benchmarks/test_faults.py: corrupt cache page, full disk, "
        "a failing server, duplicate ids; benchmarks/test_faults_run.py: SIGKILL and SIGINT, then resume; minutes)",
    )
    group.addoption(
        OPT_AA_RUNS,
        type=_positive_int,
        default=20,
        metavar="N",
        help="A/A runs of the calibration benchmark (N + 1 sampled answer sets; default 20)",
    )
    group.addoption(
        OPT_BATCH_SIZE,
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"rows decoded or scored together by the local engine (default {DEFAULT_BATCH_SIZE})",
    )
    group.addoption(
        OPT_THREADS,
        type=_positive_int,
        default=None,
        metavar="N",
        help="torch threads per process (default: cores / xdist workers)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    if not hasattr(config.option, "crossrisk_model"):
        return  # plugin loaded without its options (e.g. inside a pytester run that blocks it)
    from crossrisk_bench.report.collect import Collector

    config.stash[collector_key] = Collector()
    config.pluginmanager.register(config.stash[collector_key], "crossrisk-collector")
    if _asked_for(config):
        settings_of(config)


def _asked_for(config: pytest.Config) -> bool:
    """Whether this run names a crossrisk option (command line, PYTEST_ADDOPTS or ini addopts)."""
    args = [
        *config.invocation_params.args,
        *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
        *config.getini("addopts"),
    ]
    return any(str(a).startswith(OPTION_PREFIX) for a in args)


def settings_of(config: pytest.Config) -> Settings:
    """The run's settings, read and validated on first use; a user error is one usage error."""
    if settings_key not in config.stash:
        from crossrisk_bench.session import SuiteSession
        from crossrisk_bench.settings import Settings

        try:
            settings = Settings.from_options(config.option, durability_selected=_marker_selected(config, "durability"))
        except CrossriskError as exc:
            raise pytest.UsageError(f"crossrisk: {exc}") from None
        config.stash[settings_key] = settings
        config.stash[session_key] = SuiteSession(settings)
    return config.stash[settings_key]


def session_of(config: pytest.Config) -> SuiteSession:
    settings_of(config)
    return config.stash[session_key]


def _marker_selected(config: pytest.Config, marker: str) -> bool:
    markexpr = config.option.markexpr or ""
    return marker in markexpr and f"not {marker}" not in markexpr


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses `crossrisk_defense` runs once per defended model (ids like `safety-guard_prompt`)."""
    if "crossrisk_defense" in metafunc.fixturenames:
        specs = settings_of(metafunc.config).defenses
        metafunc.parametrize("crossrisk_defense", specs, ids=[s.id for s in specs])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Speed benchmarks measure cold runs on purpose, so they are opt-in: a normal run (and its
    cached re-run) stays short. Each opt-in marker runs with its option or a marker expression."""
    for marker, reason, option in OPT_IN:
        if config.getoption(option) or _marker_selected(config, marker):
            continue
        skip = pytest.mark.skip(
            reason=f"{reason}: run with {option}{' FILE' if marker == 'durability' else ''} or -m {marker}"
        )
        for item in items:
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Count the run's gated cells per decision family (each xdist worker collects every test,
    so every process counts the same matrix): "fail" and "efficacy shown" are decided over the
    whole matrix a user acts on, not per cell (`verdict.effects` explains the rule)."""
    if session_key not in session.config.stash:
        return
    from crossrisk_bench.verdict.gate import decision_families

    crossrisk = session.config.stash[session_key]
    cells = [
        (item.callspec.params["crossrisk_defense"], _gated_task(item))
        for item in session.items
        if "crossrisk_gate" in getattr(item, "fixturenames", ())
        and "crossrisk_defense" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    crossrisk.families = decision_families(cells, crossrisk.policy)


def _gated_task(item: pytest.Item) -> str | None:
    """The task a gated test checks, by the suite's naming (`test_<task>`); None otherwise."""
    name = getattr(item, "originalname", item.name)
    return name.removeprefix("test_") if name.startswith("test_") else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Records travel on the test report (`report.collect`); a skipped gate fails under a floor profile."""
    outcome = yield
    from crossrisk_bench.config.profiles import get_profile
    from crossrisk_bench.report.collect import attach

    floor = settings_key in item.config.stash and get_profile(settings_of(item.config).profile)
    attach(item, outcome.get_result(), floor_profile=floor.name if floor and floor.floor else None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Decide whether the run is complete (before the terminal summary writes the reports); an
    incomplete run that would otherwise exit 0 exits as failed."""
    config = session.config
    collector = config.stash.get(collector_key, None)
    if collector is None or hasattr(config, "workerinput") or config.option.collectonly:
        return
    if not (collector.tracker.uses_crossrisk or settings_key in config.stash or collector.records):
        return  # a run that never used the suite (the plugin stays dormant)
    stop = session.shouldfail or session.shouldstop
    interrupted = str(stop) if stop else ("interrupted" if exitstatus == pytest.ExitCode.INTERRUPTED else None)
    completeness = collector.tracker.result(interrupted)
    config.stash[completeness_key] = completeness
    if not completeness.complete and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    collector = config.stash.get(collector_key, None)
    if hasattr(config, "workerinput") or collector is None:
        return
    completeness = config.stash.get(completeness_key, None)
    if collector.records or collector.durability:
        from crossrisk_bench.report.run_summary import write_run_summary

        header_shown = settings_key in config.stash  # read at start (an option was given) or later (first use)
        settings = settings_of(config)
        terminalreporter.section("crossrisk conflict matrix")
        for line in [] if header_shown else settings.header_lines():
            terminalreporter.write_line(line)
        write_run_summary(
            collector.records,
            collector.neurons,
            terminalreporter.write_line,
            run=settings.run_record(),
            report_dir=settings.report_dir,
            durability=collector.durability,
            completeness=completeness,
        )
    if completeness is not None and not completeness.complete:
        terminalreporter.section("crossrisk run incomplete", red=True)
        for line in completeness.lines():
            terminalreporter.write_line(line if line.startswith(" ") else f"crossrisk: {line}")


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(settings_key, None)
    return [] if settings is None else settings.header_lines()


def _stop_on(exc: CrossriskError, what: str = "", *, skip_unsupported: bool = True) -> Any:
    """A model or cache that cannot go on stops the run once (`Fatal`); a task the model cannot
    run is skipped; any other user error fails the test with one line."""
    if skip_unsupported and isinstance(exc, Unsupported):
        pytest.skip(f"crossrisk: {what}{exc}")
    if isinstance(exc, Fatal):
        pytest.exit(f"crossrisk: {exc}")
    pytest.fail(f"crossrisk: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def crossrisk_settings(pytestconfig: pytest.Config) -> Settings:
    return settings_of(pytestconfig)


@pytest.fixture(scope="session")
def crossrisk_task_items(crossrisk_settings: Settings) -> Any:
    """`items(task_name)`: the items a task evaluates in this run (a `--crossrisk-data` dataset
    mapped to that task, else the embedded items), before the profile's limit."""
    from crossrisk_bench.data.loaders import task_items
    from crossrisk_bench.tasks import TASKS

    def items(task_name: str) -> list:
        try:
            given = task_items(task_name, crossrisk_settings.data)
            return TASKS.get(task_name).load_items() if given is None else given
        except CrossriskError as exc:
            pytest.fail(f"crossrisk: {exc}", pytrace=False)

    return items


@pytest.fixture(scope="session")
def crossrisk_backend(crossrisk_settings: Settings, pytestconfig: pytest.Config) -> Any:
    """The base model as a `Backend`, loaded once per session (per xdist worker); the same object
    the gates compare defended models with."""
    try:
        return session_of(pytestconfig).base_backend()
    except CrossriskError as exc:
        _stop_on(exc, skip_unsupported=False)


@pytest.fixture
def crossrisk_gate(request: pytest.FixtureRequest, crossrisk_defense: Any, crossrisk_task_items: Any) -> Any:
    """`gate(task_name)`: evaluate the task on this test's defended model and on its base, attach
    the effect to the report, and fail with the release-engineer message if the policy says so."""
    from crossrisk_bench.progress import progress_label
    from crossrisk_bench.report.collect import carry_effect
    from crossrisk_bench.verdict.gate import compare_with_previous, gate_outcome, write_examples

    session = session_of(request.config)
    settings = session.settings

    def gate(task_name: str) -> Any:
        try:
            items = session.items(task_name, crossrisk_task_items)
            with progress_label(f"{crossrisk_defense.name} / {task_name}"):
                effect, record = session.gate(crossrisk_defense, task_name, items)
        except CrossriskError as exc:
            _stop_on(exc, f"{task_name}: ")
        previous = None
        if settings.compare is not None:
            family = sum(session.families.values()) or 1
            previous = compare_with_previous(
                record, settings.compare, session.policy, seed=settings.seed, family_size=family
            )
            record = record.replace(vs_previous=previous.to_json() if previous else None)
        examples = (
            write_examples(settings.report_dir, record) if settings.report_dir and record.verdict != "pass" else None
        )
        carry_effect(request.node, record)
        outcome = gate_outcome(record, previous, on_inconclusive=settings.on_inconclusive, examples=examples)
        for doubt in outcome.doubts if settings.warnings else ():
            warnings.warn(
                pytest.PytestWarning(f"crossrisk inconclusive (on_inconclusive = warn): {doubt}"), stacklevel=2
            )
        if outcome.failures:
            pytest.fail("\n".join(outcome.failures), pytrace=False)
        return effect

    return gate


@pytest.fixture
def crossrisk_durability(request: pytest.FixtureRequest, crossrisk_defense: Any, crossrisk_task_items: Any) -> Any:
    """`check()`: attack this defended model and its base with every run of every attack, compare
    each attacked model with the attacked base on every task, attach the cells to the report,
    and fail when the own-risk efficacy does not survive as the policy's `[durability]` asks."""
    from crossrisk_bench.durability.summary import durability_failures, fragile_warnings, summarise
    from crossrisk_bench.report.collect import carry

    session = session_of(request.config)

    def check() -> list[dict[str, Any]]:
        spec = crossrisk_defense
        if spec.kind not in ("weights", "checkpoint"):
            pytest.skip(f"{spec.name} is a {spec.kind} defense: fine-tuning attacks act on weights, and its base's")
        try:
            if any(getattr(b, "kind", None) != "hf" for b in (session.base_for(spec), session.defended_backend(spec))):
                pytest.skip(f"{spec.name} or its base is served: fine-tuning attacks need the weights here")
            part = session.durability(spec, crossrisk_task_items)
        except CrossriskError as exc:
            pytest.fail(f"crossrisk: {exc}", pytrace=False)
        carry(request.node, "durability", part)
        rows = summarise(part["cells"])
        failures = durability_failures(rows, session.policy.durability)
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
        for line in fragile_warnings(spec.name, rows):
            warnings.warn(pytest.PytestWarning(line), stacklevel=2)
        return rows

    return check


@pytest.fixture
def crossrisk_neurons(request: pytest.FixtureRequest, crossrisk_defense: Any, crossrisk_task_items: Any) -> Any:
    """`check((risk_a, risk_b))`: the neuron-level view of this defended model on a risk pair that
    includes its target. Fails when a significant cross-risk regression is tracked by the pair's
    conflict-entangled neurons (their attribution towards the other risk's safe response fell)."""
    from crossrisk_bench.neurons.analysis import entanglement_failure
    from crossrisk_bench.report.collect import carry, carry_effect
    from crossrisk_bench.tasks import TASKS

    session = session_of(request.config)

    def check(pair: tuple[str, str]) -> dict[str, Any]:
        spec = crossrisk_defense
        if spec.kind not in ("weights", "checkpoint"):
            pytest.skip(f"{spec.name} is a {spec.kind} defense: it leaves the weights as they are")
        if spec.target.value not in pair:
            pytest.skip(f"{spec.name} targets {spec.target.value}, not {'/'.join(pair)}")
        other = next(r for r in pair if r != spec.target.value)
        try:
            tasks = [t.name for t in TASKS if t.risk.value == other]
            effects = [session.gate(spec, name, session.items(name, crossrisk_task_items))[1] for name in tasks]
            finding = session.neuron_findings(spec, other, effects)
        except CrossriskError as exc:
            pytest.fail(f"crossrisk: {exc}", pytrace=False)
        for e in effects:
            carry_effect(request.node, e)
        carry(request.node, "neurons", finding)
        failure = entanglement_failure(spec.target.value, spec.name, other, finding, effects)
        if failure:
            pytest.fail(failure, pytrace=False)
        return finding

    return check
