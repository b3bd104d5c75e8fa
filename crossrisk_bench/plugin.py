"""The pytest plugin (entry point `pytest11: crossrisk`): options, markers, fixtures, header.

Dormant until used, as Hypothesis's plugin is: installing the suite must not change another
project's test runs. At import and configure time it registers options and markers only
(nothing heavy imported, no file read). The run's settings (models file, policy, profile) are
read the first time they are needed: at once when a `--crossrisk-*` option is given (so a bad
option is one usage error), else when a test uses a crossrisk fixture. The model loads the
first time a test asks for it. Settings live on `config.stash` (no process-global state).
"""

from __future__ import annotations

import json
import os
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crossrisk_bench.config.options import BY_NAME, OPTIONS, PYTEST_PREFIX, add_options, flag, model_spec_from_options
from crossrisk_bench.errors import CrossriskError, Fatal, Unsupported
from crossrisk_bench.risks import MARKERS


@dataclass(frozen=True)
class CrossriskSettings:
    """Everything the command line said about this run, validated."""

    model: Any  # ModelSpec
    cache_dir: Path
    use_cache: bool
    limit: int | None  # items per task, from --crossrisk-limit or the profile
    profile: str
    data: tuple[tuple[str, str], ...]  # (dataset name, path) pairs replacing embedded items
    report_dir: Path | None
    compare: Any  # the previous release's results document, or None
    models_file: Path
    policy_file: Path
    defenses: tuple[Any, ...]  # DefenseSpec of each defended model, in models-file order
    seed: int
    batch_size: int
    threads: int | None
    on_inconclusive: str = "warn"  # the policy's choice, else the profile's
    judges: Any = None  # JudgeChoice: which refusal and fulfilment judges score the run
    left_out: tuple[str, ...] = ()  # weights defenses left out because the base is served
    attacks: tuple[Any, ...] = ()  # AttackSpec of each fine-tuning attack (--crossrisk-attacks)
    weakened: tuple[str, ...] = ()  # what weakens a floor profile, allowed by --crossrisk-allow-weaker-release


OPTION_PREFIX = "--" + PYTEST_PREFIX  # what every crossrisk option starts with

settings_key = pytest.StashKey[CrossriskSettings]()
session_key = pytest.StashKey[Any]()
records_key = pytest.StashKey[list]()
neurons_key = pytest.StashKey[list]()
durability_key = pytest.StashKey[list]()
tracker_key = pytest.StashKey[Any]()  # RunTracker: the selected tests and how each ended (controller)
completeness_key = pytest.StashKey[Any]()  # Completeness of the run, set at session finish
item_records_key = pytest.StashKey[dict]()  # per test item: {"effects": [...], "neurons": [...], "durability": [...]}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crossrisk", "crossrisk-bench: cross-risk evaluation of LLM defenses")
    add_options(group.addoption, OPTIONS, PYTEST_PREFIX)


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    if not hasattr(config.option, "crossrisk_model"):
        return  # plugin loaded without its options (e.g. inside a pytester run that blocks it)
    config.stash[records_key] = []
    config.stash[neurons_key] = []
    config.stash[durability_key] = []
    config.pluginmanager.register(
        _EffectCollector(config.stash[records_key], config.stash[neurons_key], config.stash[durability_key]),
        "crossrisk-effect-collector",
    )
    from crossrisk_bench.report.completeness import RunTracker

    config.stash[tracker_key] = RunTracker()
    config.pluginmanager.register(_TrackerHooks(config.stash[tracker_key]), "crossrisk-run-tracker")
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


def settings_of(config: pytest.Config) -> CrossriskSettings:
    """The run's settings, read and validated on first use; a user error is one usage error."""
    found = config.stash.get(settings_key, None)
    if found is None:
        try:
            found = _read_settings(config)
        except CrossriskError as exc:
            raise pytest.UsageError(f"crossrisk: {exc}") from None
    return found


def session_of(config: pytest.Config) -> Any:
    settings_of(config)
    return config.stash[session_key]


def _read_settings(config: pytest.Config) -> CrossriskSettings:
    from crossrisk_bench.config.models_file import base_spec, load_models, models_base, own_base
    from crossrisk_bench.config.policy import load_policy
    from crossrisk_bench.config.profiles import get_profile, items_limit, weakenings
    from crossrisk_bench.data.loaders import data_task, parse_data_option
    from crossrisk_bench.judges.select import parse_judge_options
    from crossrisk_bench.models.cache import default_cache_dir
    from crossrisk_bench.models.loader import DEFAULT_MODEL, resolve
    from crossrisk_bench.paths import FIXTURES
    from crossrisk_bench.session import SuiteSession
    from crossrisk_bench.tasks import TASKS

    models_file = Path(config.option.crossrisk_models or FIXTURES / "models.toml").expanduser()
    model = config.option.crossrisk_model or models_base(models_file) or DEFAULT_MODEL
    spec = model_spec_from_options(config.option, model)
    resolve(spec)
    limit = items_limit(config.option.crossrisk_profile, config.option.crossrisk_limit)
    data = tuple(parse_data_option(value) for value in config.option.crossrisk_data)
    policy_file = Path(config.option.crossrisk_policy or FIXTURES / "policy.toml").expanduser()
    defenses = load_models(models_file)
    for d in defenses:  # an entry's own base that cannot be found stops the run once, here
        if own_base(d):
            try:
                resolve(base_spec(spec, own_base(d)))
            except CrossriskError as exc:
                raise CrossriskError(f"{models_file}: the base of {d.name!r}: {exc}") from None
    left_out: tuple[str, ...] = ()
    if spec.backend != "hf":
        needs_weights = {d.name for d in defenses if d.kind == "weights" or "weights" in d.params.get("kinds", ())}
        left_out = tuple(d.name for d in defenses if d.name in needs_weights)
        defenses = tuple(d for d in defenses if d.name not in needs_weights)
        if not defenses:
            raise CrossriskError(
                f"{models_file} lists only weights defenses, which need the model's weights; "
                "a served base takes prompt and filter defenses and served checkpoints "
                "(models.toml entries with base_url and model)"
            )
    policy = load_policy(policy_file, known_tasks=TASKS.names())
    for task_name in dict.fromkeys(data_task(name) for name, _ in data):
        # a repeated id or a cluster key the user's items lack stops the run once, here
        from crossrisk_bench.data.loaders import task_items
        from crossrisk_bench.verdict.compare import missing_cluster_key

        items = task_items(task_name, data) or []
        problem = missing_cluster_key(task_name, policy.cluster_by.get(task_name), items)
        if problem:
            path = ", ".join(p for n, p in data if data_task(n) == task_name)
            raise CrossriskError(
                f"{path}: {problem}; add it to every item's meta, or drop cluster_by.{task_name} from the policy"
            )
    attacks: tuple[Any, ...] = ()
    if config.option.crossrisk_attacks or _marker_selected(config, "durability"):
        from crossrisk_bench.durability.attacks import load_attacks

        attacks = load_attacks(Path(config.option.crossrisk_attacks or FIXTURES / "attacks.toml").expanduser())
    weakened = weakenings(config.option.crossrisk_profile, config.option.crossrisk_limit, policy.on_inconclusive)
    if weakened and not config.option.crossrisk_allow_weaker_release:
        raise CrossriskError(
            f"the {config.option.crossrisk_profile} profile is a floor and {' and '.join(weakened)} would weaken it; "
            f"drop it, or pass {flag('allow-weaker-release')} (the report then says so)"
        )
    on_inconclusive = policy.on_inconclusive or get_profile(config.option.crossrisk_profile).on_inconclusive
    judges = parse_judge_options(
        config.option.crossrisk_judge, config.option.crossrisk_judge_model, config.option.crossrisk_judge_validation
    )
    compare = None
    if config.option.crossrisk_compare:
        from crossrisk_bench.report.outputs import load_document

        compare = load_document(Path(config.option.crossrisk_compare).expanduser())
    cache = config.option.crossrisk_cache
    report = config.option.crossrisk_report
    settings = CrossriskSettings(
        model=spec,
        cache_dir=Path(cache).expanduser() if cache else default_cache_dir(),
        use_cache=not config.option.crossrisk_no_cache,
        limit=limit,
        profile=config.option.crossrisk_profile,
        data=data,
        report_dir=Path(report).expanduser() if report else None,
        compare=compare,
        models_file=models_file,
        policy_file=policy_file,
        defenses=defenses,
        seed=config.option.crossrisk_seed,
        batch_size=config.option.crossrisk_batch_size,
        threads=config.option.crossrisk_threads,
        on_inconclusive=on_inconclusive,
        judges=judges,
        left_out=left_out,
        attacks=attacks,
        weakened=weakened,
    )
    config.stash[settings_key] = settings
    config.stash[session_key] = SuiteSession(settings, policy)
    return settings


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses `crossrisk_defense` runs once per defended model (ids like `safety-guard_prompt`)."""
    if "crossrisk_defense" in metafunc.fixturenames:
        specs = settings_of(metafunc.config).defenses
        metafunc.parametrize("crossrisk_defense", specs, ids=[s.id for s in specs])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Speed benchmarks measure cold runs on purpose, so they are opt-in: a normal run (and its
    cached re-run) stays short. `--crossrisk-perf` or a marker expression selecting perf runs them."""
    for marker, reason, option in (
        ("perf", "speed benchmark", BY_NAME["perf"]),
        ("neurons", "neuron analysis", BY_NAME["neurons"]),
        ("calibration", "verdict calibration", BY_NAME["calibration"]),
        ("faults", "fault injection", BY_NAME["faults"]),
        ("durability", "fine-tuning attacks", BY_NAME["attacks"]),
    ):
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
    whole matrix a user acts on, not per cell (`effects` explains the rule)."""
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


def _marker_selected(config: pytest.Config, marker: str) -> bool:
    markexpr = config.option.markexpr or ""
    return marker in markexpr and f"not {marker}" not in markexpr


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Effect records travel as attributes of the test report (pytest-xdist serialises a report's
    attributes back to the controller, as the Hypothesis plugin relies on), not as
    `user_properties`, which --junitxml would fill with every model response. JUnit gets one
    short property per cell: its verdict and change."""
    outcome = yield
    report = outcome.get_result()
    if _is_gated(item):
        _mark_gated(item, report)
    carried = item.stash.get(item_records_key, None)
    if report.when == "call" and carried:
        report.crossrisk_effects = list(carried["effects"])
        report.crossrisk_neurons = list(carried["neurons"])
        report.crossrisk_durability = list(carried["durability"])


def _is_gated(item: pytest.Item) -> bool:
    from crossrisk_bench.report.completeness import GATE_FIXTURE

    return GATE_FIXTURE in getattr(item, "fixturenames", ())


def _mark_gated(item: pytest.Item, report: pytest.TestReport) -> None:
    """The report says it measures gated cells (so the controller can tell a skipped gate from
    any skip); under a floor profile (release) a skipped gated cell fails instead."""
    from crossrisk_bench.config.profiles import get_profile
    from crossrisk_bench.report.completeness import GATED_ATTR, skip_reason

    setattr(report, GATED_ATTR, True)
    if report.skipped and not hasattr(report, "wasxfail"):
        profile = get_profile(settings_of(item.config).profile)
        if profile.floor:
            report.outcome = "failed"
            report.longrepr = (
                f"crossrisk: skipped ({skip_reason(report)}), and the {profile.name} profile fails every gated "
                "cell it does not evaluate"
            )


def _carry_effect(node: pytest.Item, record: Any) -> None:
    """An `EffectRecord` travels as its JSON form; JUnit gets one short property per cell."""
    _carried(node)["effects"].append(_plain_json(record.to_json()))
    low, high = record.regression_ci
    node.user_properties.append(
        (
            f"crossrisk {record.defense_name} {record.task}",
            f"{record.verdict}: {record.regression * 100:+.1f} pts ({low * 100:+.1f}..{high * 100:+.1f}), "
            f"tolerance {record.tolerance:g}, n={record.n}" + (f", {record.headroom}" if record.headroom else ""),
        )
    )


def _carry_neurons(node: pytest.Item, finding: dict[str, Any]) -> None:
    _carried(node)["neurons"].append(_plain_json(finding))


def _carry_durability(node: pytest.Item, part: dict[str, Any]) -> None:
    _carried(node)["durability"].append(_plain_json(part))


def _carried(node: pytest.Item) -> dict[str, list]:
    return node.stash.setdefault(item_records_key, {"effects": [], "neurons": [], "durability": []})


def _plain_json(record: dict[str, Any]) -> dict[str, Any]:
    """The record as plain JSON values: pytest-xdist cannot send numpy scalars to the controller,
    and a serial run must write exactly what a parallel one does."""

    def scalar(value: Any) -> Any:
        if hasattr(value, "item") and callable(value.item) and not hasattr(value, "__len__"):
            return value.item()
        raise TypeError(f"a crossrisk record holds a {type(value).__name__}, which is not JSON")

    return json.loads(json.dumps(record, default=scalar))


class _EffectCollector:
    """Gathers the effect records that tests attach to their reports. Under pytest-xdist the
    reports arrive at the controller from the workers, which is why records travel on reports
    and not on `config.stash` (xdist does not copy it back)."""

    def __init__(self, records: list, neurons: list, durability: list) -> None:
        self.records = records
        self.neurons = neurons
        self.durability = durability

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            from crossrisk_bench.results import EffectRecord

            seen = {r.key for r in self.records}
            for value in getattr(report, "crossrisk_effects", ()):  # a cell measured by two tests counts once
                record = EffectRecord.from_json(value, f"effect record of {report.nodeid}")
                if record.key not in seen:
                    self.records.append(record)
                    seen.add(record.key)
            self.neurons.extend(getattr(report, "crossrisk_neurons", ()))
            self.durability.extend(getattr(report, "crossrisk_durability", ()))


class _TrackerHooks:
    """Feeds the `RunTracker` on the controller: which tests were selected and how each ended."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.tracker.select(item.nodeid for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.tracker.select(ids)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.tracker.record(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Decide whether the run is complete (before the terminal summary writes the reports); an
    incomplete run that would otherwise exit 0 exits as failed."""
    config = session.config
    tracker = config.stash.get(tracker_key, None)
    if tracker is None or hasattr(config, "workerinput") or config.option.collectonly:
        return
    if not (tracker.uses_crossrisk or settings_key in config.stash or config.stash[records_key]):
        return  # a run that never used the suite (the plugin stays dormant)
    stop = session.shouldfail or session.shouldstop
    interrupted = str(stop) if stop else ("interrupted" if exitstatus == pytest.ExitCode.INTERRUPTED else None)
    completeness = tracker.result(interrupted)
    config.stash[completeness_key] = completeness
    if not completeness.complete and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or records_key not in config.stash:
        return
    completeness = config.stash.get(completeness_key, None)
    if config.stash[records_key] or config.stash[durability_key]:
        _summarise(terminalreporter, config, completeness)
    if completeness is not None and not completeness.complete:
        terminalreporter.section("crossrisk run incomplete", red=True)
        for line in completeness.lines():
            terminalreporter.write_line(line if line.startswith(" ") else f"crossrisk: {line}")


def _summarise(terminalreporter: Any, config: pytest.Config, completeness: Any) -> None:
    """The conflict matrix, and the report files when the run has a report folder."""
    header_shown = settings_key in config.stash  # read at start (an option was given) or later (first use)
    settings = settings_of(config)
    terminalreporter.section("crossrisk conflict matrix")
    if not header_shown:
        for line in header_lines(settings):
            terminalreporter.write_line(line)
    session_of(config).summarise(
        config.stash[records_key],
        config.stash[neurons_key],
        terminalreporter.write_line,
        durability=config.stash[durability_key],
        completeness=completeness,
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(settings_key, None)
    return [] if settings is None else header_lines(settings)


def header_lines(settings: CrossriskSettings) -> list[str]:
    spec = settings.model
    model = spec.model + (f" + adapter {spec.adapter}" if spec.adapter else "")
    model += f"@{spec.revision}" if spec.revision else ""
    cache = f"{settings.cache_dir / 'responses.sqlite'}" if settings.use_cache else "off (--crossrisk-no-cache)"
    items = "all" if settings.limit is None else settings.limit
    where = (
        f"backend=openai url={spec.server.api_root}"
        if spec.server is not None
        else f"backend=hf device={spec.device} dtype={spec.dtype or 'float32 (bfloat16 on a GPU)'}"
    )
    lines = [
        f"crossrisk: model={model} {where} cache={cache}",
        f"crossrisk: profile={settings.profile} items per task={items} seed={settings.seed} "
        f"on_inconclusive={settings.on_inconclusive}",
    ]
    from crossrisk_bench.config.models_file import own_base

    own = [(d.name, own_base(d)) for d in settings.defenses if own_base(d)]
    if own:
        lines.append("crossrisk: compared with their own base: " + ", ".join(f"{n} vs {b}" for n, b in own))
    if settings.weakened:
        lines.append(
            f"crossrisk: {settings.profile} weakened ({flag('allow-weaker-release')}): {'; '.join(settings.weakened)}"
        )
    if settings.left_out:
        lines.append(
            f"crossrisk: served base: weights defenses left out (they need local weights): "
            f"{', '.join(settings.left_out)}"
        )
    return lines


@pytest.fixture(scope="session")
def crossrisk_settings(pytestconfig: pytest.Config) -> CrossriskSettings:
    return settings_of(pytestconfig)


@pytest.fixture(scope="session")
def crossrisk_task_items(crossrisk_settings: CrossriskSettings) -> Any:
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
def crossrisk_backend(crossrisk_settings: CrossriskSettings, pytestconfig: pytest.Config) -> Any:
    """The base model as a `Backend`, loaded once per session (per xdist worker); the same object
    the gates compare defended models with."""
    session = session_of(pytestconfig)
    try:
        backend = session.base_backend()
    except Fatal as exc:
        pytest.exit(f"crossrisk: {exc}")
    except CrossriskError as exc:
        pytest.fail(f"crossrisk: {exc}", pytrace=False)
    yield backend


@pytest.fixture
def crossrisk_gate(request: pytest.FixtureRequest, crossrisk_defense: Any, crossrisk_task_items: Any) -> Any:
    """`gate(task_name)`: evaluate the task on this test's defended model and on its base, attach
    the effect to the report, and fail with the release-engineer message if the policy says so."""
    from crossrisk_bench.progress import progress_label
    from crossrisk_bench.verdict.gate import run_gate, write_examples

    config = request.config
    session = session_of(config)
    settings = settings_of(config)

    def gate(task_name: str) -> Any:
        try:
            items = session.items(task_name, crossrisk_task_items)
            with progress_label(f"{crossrisk_defense.name} / {task_name}"):
                effect, record = run_gate(session, crossrisk_defense, task_name, items)
        except Unsupported as exc:
            pytest.skip(f"crossrisk: {task_name}: {exc}")
        except Fatal as exc:
            pytest.exit(f"crossrisk: {exc}")
        except CrossriskError as exc:
            pytest.fail(f"crossrisk: {exc}", pytrace=False)
        failures, doubts = [], []
        if effect.verdict != "pass":
            examples = write_examples(settings.report_dir, record) if settings.report_dir else None
            message = record.message + (f"; regressed examples: {examples}" if examples else "")
            (failures if effect.verdict == "fail" else doubts).append(message)
        if settings.compare is not None:
            from crossrisk_bench.verdict.gate import compare_with_previous

            previous = compare_with_previous(
                record,
                settings.compare,
                session.policy,
                seed=settings.seed,
                family_size=sum(session.families.values()) or 1,
            )
            record = record.replace(vs_previous=previous)
            if previous is not None and previous["verdict"] != "pass":
                (failures if previous["verdict"] == "fail" else doubts).append(previous["message"])
        _carry_effect(request.node, record)
        if settings.on_inconclusive == "fail":
            failures, doubts = failures + doubts, []
        for doubt in doubts if config.option.crossrisk_warnings else ():
            warnings.warn(
                pytest.PytestWarning(f"crossrisk inconclusive (on_inconclusive = warn): {doubt}"), stacklevel=2
            )
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
        return effect

    return gate


@pytest.fixture
def crossrisk_durability(request: pytest.FixtureRequest, crossrisk_defense: Any, crossrisk_task_items: Any) -> Any:
    """`check()`: attack this defended model and its base with every run of every attack, compare
    each attacked model with the attacked base on every task, attach the cells to the report,
    and fail when the own-risk efficacy does not survive as the policy's `[durability]` asks."""
    from crossrisk_bench.durability.summary import durability_failures, summarise

    config = request.config
    session = session_of(config)

    def check() -> list[dict[str, Any]]:
        spec = crossrisk_defense
        if spec.kind not in ("weights", "checkpoint"):
            pytest.skip(f"{spec.name} is a {spec.kind} defense: fine-tuning attacks act on weights, and its base's")
        try:
            served = any(
                getattr(b, "kind", None) != "hf" for b in (session.base_for(spec), session.defended_backend(spec))
            )
            if not served:
                part = session.durability(spec, crossrisk_task_items)
        except CrossriskError as exc:
            pytest.fail(f"crossrisk: {exc}", pytrace=False)
        if served:
            pytest.skip(f"{spec.name} or its base is served: fine-tuning attacks need the weights here")
        _carry_durability(request.node, part)
        rows = summarise(part["cells"])
        failures = durability_failures(rows, session.policy.durability)
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
        for r in rows:
            if r["fragile"] and r["gate"] == "efficacy":
                warnings.warn(
                    pytest.PytestWarning(
                        f"crossrisk durability: {spec.name} on {r['task']} after {r['attack']} is fragile: "
                        f"its verdict flips across {', '.join(r['flips'])}"
                    ),
                    stacklevel=2,
                )
        return rows

    return check


@pytest.fixture
def crossrisk_neurons(request: pytest.FixtureRequest, crossrisk_defense: Any, crossrisk_task_items: Any) -> Any:
    """`check((risk_a, risk_b))`: the neuron-level view of this defended model on a risk pair that
    includes its target. Fails when a significant cross-risk regression is tracked by the pair's
    conflict-entangled neurons (their attribution towards the other risk's safe response fell)."""
    from crossrisk_bench.tasks import TASKS
    from crossrisk_bench.verdict.gate import run_gate

    config = request.config
    session = session_of(config)

    def check(pair: tuple[str, str]) -> dict[str, Any]:
        spec = crossrisk_defense
        if spec.kind not in ("weights", "checkpoint"):
            pytest.skip(f"{spec.name} is a {spec.kind} defense: it leaves the weights as they are")
        if spec.target.value not in pair:
            pytest.skip(f"{spec.name} targets {spec.target.value}, not {'/'.join(pair)}")
        other = next(r for r in pair if r != spec.target.value)
        try:
            effects = [
                run_gate(session, spec, task.name, session.items(task.name, crossrisk_task_items))[1]
                for task in TASKS
                if task.risk.value == other
            ]
            finding = session.neuron_findings(spec, other, effects)
        except CrossriskError as exc:
            pytest.fail(f"crossrisk: {exc}", pytrace=False)
        for e in effects:
            _carry_effect(request.node, e)
        _carry_neurons(request.node, finding)
        confirmed = [e for e in effects if e.label == "conflict"]
        for trend in finding["trends"]:
            if confirmed and trend["consistent"]:
                causal = "; ".join(
                    f"zeroing them moves {c['task']} from {c['conflict'] * 100:+.1f} to {c['conflict_entangled_ablated'] * 100:+.1f} pts "
                    f"(as many random neurons: {c['conflict_random_ablated'] * 100:+.1f})"
                    for c in finding["causal"]
                )
                pytest.fail(
                    f"{spec.target.value}/{spec.name} drags {other} through {trend['neurons']} conflict-entangled neurons: "
                    f"their attribution towards {other}'s safe responses shifted {trend['attribution_shift']:+.3g}, and "
                    + ", ".join(f"{e.task} rose {e.delta * 100:+.1f} pts" for e in confirmed)
                    + (f"; {causal}" if causal else ""),
                    pytrace=False,
                )
        return finding

    return check
