"""The pytest plugin (entry point `pytest11: crossrisk`): options, markers, hooks and fixtures.

Dormant until used, as Hypothesis's plugin is: importing it loads nothing heavy and reads no
file. Settings are read at once when a `--crossrisk-*` option is given (a bad one is one usage
error), else when a test first uses a crossrisk fixture, and live on `config.stash`. The work is
in `settings`, `session`, `verdict.gate`, `report.collect` and `report.run_summary`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from crossrisk_bench.config.options import OPTIONS, PYTEST_PREFIX, add_options, marker_selected, named_in, opt_in_skips
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.outcome import fail_with, stop_on, warn_with, weights_only
from crossrisk_bench.risks import MARKERS

if TYPE_CHECKING:
    from crossrisk_bench.data.items import Item
    from crossrisk_bench.defenses.base import DefenseSpec
    from crossrisk_bench.models.base import Backend
    from crossrisk_bench.session import ItemSource, SuiteSession
    from crossrisk_bench.settings import Settings
    from crossrisk_bench.verdict.effects import Effect


settings_key = pytest.StashKey["Settings"]()
session_key = pytest.StashKey["SuiteSession"]()
collector_key = pytest.StashKey["Collector"]()


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
    if named_in(config.invocation_params.args, config.getini("addopts")):
        settings_of(config)  # an option was given: a bad one is one usage error, before collection


def settings_of(config: pytest.Config) -> Settings:
    """The run's settings, read and validated on first use; a user error is one usage error."""
    if settings_key not in config.stash:
        from crossrisk_bench.settings import Settings

        try:
            durability = marker_selected(config.option.markexpr, "durability")
            config.stash[settings_key] = Settings.from_options(config.option, durability_selected=durability)
        except CrossriskError as exc:
            raise pytest.UsageError(f"crossrisk: {exc}") from None
    return config.stash[settings_key]


def session_of(config: pytest.Config) -> SuiteSession:
    """The process's session (models, judges, base results), made on first use from the settings."""
    if session_key not in config.stash:
        from crossrisk_bench.session import SuiteSession

        config.stash[session_key] = SuiteSession(settings_of(config))
    return config.stash[session_key]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses `crossrisk_defense` runs once per defended model (ids like `safety-guard_prompt`)."""
    if "crossrisk_defense" in metafunc.fixturenames:
        specs = settings_of(metafunc.config).defenses
        metafunc.parametrize("crossrisk_defense", specs, ids=[s.id for s in specs])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Speed, calibration, fault, neuron and attack benchmarks are long, so they are opt-in."""
    for marker, reason in opt_in_skips(config.option).items():
        for item in (i for i in items if i.get_closest_marker(marker) is not None):
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Count the run's gated cells per decision family (every xdist worker collects every test,
    so every process counts the same matrix): "fail" and "efficacy shown" are decided over the
    whole matrix a user acts on, not per cell (`verdict.effects` explains the rule)."""
    if settings_key in session.config.stash:
        from crossrisk_bench.report.collect import gated_cells
        from crossrisk_bench.verdict.gate import decision_families

        crossrisk = session_of(session.config)
        crossrisk.families = decision_families(gated_cells(session.items), crossrisk.policy)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Records travel on the test report (`report.collect`); a skipped gate fails under a floor profile."""
    outcome = yield
    from crossrisk_bench.report.collect import attach

    attach(
        item,
        outcome.get_result(),
        profile=settings_of(item.config).profile if settings_key in item.config.stash else None,
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    collector = session.config.stash.get(collector_key, None)
    if collector is not None and not hasattr(session.config, "workerinput") and not session.config.option.collectonly:
        collector.finish(session, exitstatus, used=settings_key in session.config.stash)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    collector = config.stash.get(collector_key, None)
    if hasattr(config, "workerinput") or collector is None:
        return
    if not (collector.records or collector.durability or collector.completeness):
        return  # a run that never used the suite: nothing to print, nothing imported
    from crossrisk_bench.report.run_summary import terminal_summary

    shown = settings_key in config.stash  # the pytest header showed the settings (read at start)
    settings = settings_of(config) if collector.records or collector.durability else None
    terminal_summary(
        terminalreporter,
        collector,
        header=[] if shown or settings is None else settings.header_lines(),
        run=settings.run_record() if settings else {},
        report_dir=settings.report_dir if settings else None,
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(settings_key, None)
    return [] if settings is None else settings.header_lines()


@pytest.fixture(scope="session")
def crossrisk_settings(pytestconfig: pytest.Config) -> Settings:
    return settings_of(pytestconfig)


@pytest.fixture(scope="session")
def crossrisk_task_items(crossrisk_settings: Settings) -> ItemSource:
    """`items(task_name)`: the items a task evaluates in this run, before the profile's limit."""

    def items(task_name: str) -> list[Item]:
        try:
            return crossrisk_settings.task_items(task_name)
        except CrossriskError as exc:
            stop_on(exc, skip_unsupported=False)

    return items


@pytest.fixture(scope="session")
def crossrisk_backend(crossrisk_settings: Settings, pytestconfig: pytest.Config) -> Backend:
    """The base model, loaded once per process: the object the gates compare defended models with."""
    try:
        return session_of(pytestconfig).base_backend()
    except CrossriskError as exc:
        stop_on(exc, skip_unsupported=False)


@pytest.fixture
def crossrisk_gate(
    request: pytest.FixtureRequest, crossrisk_defense: DefenseSpec, crossrisk_task_items: ItemSource
) -> Callable[[str], Effect]:
    """`gate(task_name)`: evaluate the task on this test's defended model and on its base, attach
    the effect to the report, and fail with the release-engineer message if the policy says so."""
    from crossrisk_bench.progress import progress_label
    from crossrisk_bench.report.collect import carry_effect

    session = session_of(request.config)

    def gate(task_name: str) -> Effect:
        try:
            with progress_label(f"{crossrisk_defense.name} / {task_name}"):
                items = session.items(task_name, crossrisk_task_items)
                effect, record, outcome = session.decide(crossrisk_defense, task_name, items)
        except CrossriskError as exc:
            stop_on(exc, f"{task_name}: ")
        carry_effect(request.node, record)
        if session.settings.warnings:
            warn_with(f"crossrisk inconclusive (on_inconclusive = warn): {doubt}" for doubt in outcome.doubts)
        fail_with(outcome.failures)
        return effect

    return gate


@pytest.fixture
def crossrisk_durability(
    request: pytest.FixtureRequest, crossrisk_defense: DefenseSpec, crossrisk_task_items: ItemSource
) -> Any:
    """`check()`: attack this defended model and its base with every attack run, compare them on
    every task, and fail when own-risk efficacy does not survive as the policy's `[durability]` asks."""
    from crossrisk_bench.durability.summary import fragile_warnings
    from crossrisk_bench.report.collect import carry

    session, spec = session_of(request.config), crossrisk_defense

    def check() -> list[dict[str, Any]]:
        weights_only(spec, "fine-tuning attacks act on weights, and its base's")
        try:
            if any(getattr(b, "kind", None) != "hf" for b in (session.base_for(spec), session.defended_backend(spec))):
                pytest.skip(f"{spec.name} or its base is served: fine-tuning attacks need the weights here")
            part, rows, failures = session.durability_check(spec, crossrisk_task_items)
        except CrossriskError as exc:
            pytest.fail(f"crossrisk: {exc}", pytrace=False)
        carry(request.node, "durability", part)
        fail_with(failures)
        warn_with(fragile_warnings(spec.name, rows))
        return rows

    return check


@pytest.fixture
def crossrisk_neurons(
    request: pytest.FixtureRequest, crossrisk_defense: DefenseSpec, crossrisk_task_items: ItemSource
) -> Any:
    """`check((risk_a, risk_b))`: the neuron-level view of this defended model on a risk pair with
    its target; fails when a significant cross-risk regression is tracked by conflict-entangled neurons."""
    from crossrisk_bench.report.collect import carry, carry_effect

    session, spec = session_of(request.config), crossrisk_defense

    def check(pair: tuple[str, str]) -> dict[str, Any]:
        weights_only(spec, "it leaves the weights as they are")
        if spec.target.value not in pair:
            pytest.skip(f"{spec.name} targets {spec.target.value}, not {'/'.join(pair)}")
        try:
            effects, finding, failure = session.neuron_check(
                spec, next(r for r in pair if r != spec.target.value), crossrisk_task_items
            )
        except CrossriskError as exc:
            pytest.fail(f"crossrisk: {exc}", pytrace=False)
        for e in effects:
            carry_effect(request.node, e)
        carry(request.node, "neurons", finding)
        fail_with([failure] if failure else [])
        return finding

    return check
