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

from crossrisk_bench.config.options import BY_NAME, OPTIONS, PYTEST_PREFIX, add_options, flag
from crossrisk_bench.errors import CrossriskError, Fatal, Unsupported
from crossrisk_bench.risks import MARKERS

if TYPE_CHECKING:
    from crossrisk_bench.session import SuiteSession
    from crossrisk_bench.settings import Settings


OPTION_PREFIX = "--" + PYTEST_PREFIX  # what every crossrisk option starts with
settings_key = pytest.StashKey["Settings"]()
session_key = pytest.StashKey["SuiteSession"]()
collector_key = pytest.StashKey["Collector"]()
completeness_key = pytest.StashKey[Any]()  # Completeness of the run, set at session finish
OPT_IN = (  # marker, what it runs, the option that selects it
    ("perf", "speed benchmark", "perf"),
    ("neurons", "neuron analysis", "neurons"),
    ("calibration", "verdict calibration", "calibration"),
    ("faults", "fault injection", "faults"),
    ("durability", "fine-tuning attacks", "attacks"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crossrisk", "crossrisk-bench: cross-risk evaluation of LLM defenses")
    add_options(group.addoption, OPTIONS, PYTEST_PREFIX)


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
    for marker, reason, name in OPT_IN:
        option = BY_NAME[name]
        if getattr(config.option, option.dest, None) or _marker_selected(config, marker):
            continue
        spelled = " ".join(filter(None, (flag(option.name), option.metavar)))
        skip = pytest.mark.skip(reason=f"{reason}: run with {spelled} or -m {marker}")
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
    from crossrisk_bench.defenses.base import WEIGHT_KINDS
    from crossrisk_bench.durability.summary import durability_failures, durability_rows, fragile_warnings
    from crossrisk_bench.report.collect import carry

    session = session_of(request.config)

    def check() -> list[dict[str, Any]]:
        spec = crossrisk_defense
        if spec.kind not in WEIGHT_KINDS:
            pytest.skip(f"{spec.name} is a {spec.kind} defense: fine-tuning attacks act on weights, and its base's")
        try:
            if any(getattr(b, "kind", None) != "hf" for b in (session.base_for(spec), session.defended_backend(spec))):
                pytest.skip(f"{spec.name} or its base is served: fine-tuning attacks need the weights here")
            part = session.durability(spec, crossrisk_task_items)
        except CrossriskError as exc:
            pytest.fail(f"crossrisk: {exc}", pytrace=False)
        carry(request.node, "durability", part)
        rows = durability_rows(part["cells"])
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
    from crossrisk_bench.defenses.base import WEIGHT_KINDS
    from crossrisk_bench.neurons.analysis import entanglement_failure
    from crossrisk_bench.report.collect import carry, carry_effect
    from crossrisk_bench.tasks import TASKS

    session = session_of(request.config)

    def check(pair: tuple[str, str]) -> dict[str, Any]:
        spec = crossrisk_defense
        if spec.kind not in WEIGHT_KINDS:
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
