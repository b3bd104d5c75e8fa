"""The session prepares a cell and the gate compares it: asking for the same cell twice gives the
same record (no shared state is consumed), and the base's computed requests are counted in one
cell, so a run's cells add up to what it computed."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossrisk_bench.config.models_file import load_models
from crossrisk_bench.config.policy import Policy
from crossrisk_bench.data.items import take
from crossrisk_bench.models.loader import ModelSpec
from crossrisk_bench.session import SuiteSession
from crossrisk_bench.settings import Settings
from crossrisk_bench.tasks import TASKS


def _session(tiny_dir: Path, tmp_path: Path) -> SuiteSession:
    """A session on the tiny model with two prompt defenses (no policy or models file read)."""
    models = tmp_path / "models.toml"
    models.write_text('[[defended]]\ndefense = "fair_prompt"\n\n[[defended]]\ndefense = "privacy_prompt"\n')
    settings = Settings(
        model=ModelSpec(str(tiny_dir)),
        cache_dir=tmp_path,
        use_cache=True,
        limit=8,
        profile="quick",
        data=(),
        report_dir=None,
        compare=None,
        models_file=models,
        policy_file=tmp_path / "policy.toml",
        policy=Policy(),
        defenses=load_models(models),
        seed=0,
        batch_size=4,
        threads=1,
    )
    return SuiteSession(settings)


def test_a_cell_asked_twice_gives_the_same_record(tiny_dir: Path, tmp_path: Path) -> None:
    session = _session(tiny_dir, tmp_path)
    defenses = session.settings.defenses
    items = take(TASKS.get("pii_leakage").load_items(), 8)
    first = [session.gate(spec, "pii_leakage", items)[1] for spec in defenses]
    again = [session.gate(spec, "pii_leakage", items)[1] for spec in defenses]
    assert first == again
    computed = [r.base_computed for r in first]
    assert computed[0] == 8 and computed[1] == 0  # the base's 8 answers, counted in the first cell only


@pytest.mark.parametrize("fails_in", ["defended model", "comparison"])
def test_base_requests_go_to_the_first_cell_that_is_compared(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails_in: str
) -> None:
    """A cell that fails after the base was computed (its defended model, or its comparison)
    does not take the base's requests with it: the next cell counts them, so the cells add up."""
    import crossrisk_bench.session as session_module
    from crossrisk_bench.errors import CrossriskError

    session = _session(tiny_dir, tmp_path)
    first, second = session.settings.defenses
    items = take(TASKS.get("pii_leakage").load_items(), 8)
    if fails_in == "defended model":
        working = session.defended_backend
        monkeypatch.setattr(session, "defended_backend", lambda spec: _fail_for(first, spec) or working(spec))
    else:
        working_compare = session_module.compare_cell
        monkeypatch.setattr(
            session_module,
            "compare_cell",
            lambda cell, policy: _fail_for(first, cell.spec) or working_compare(cell, policy),
        )
    with pytest.raises(CrossriskError):
        session.gate(first, "pii_leakage", items)
    assert session.gate(second, "pii_leakage", items)[1].base_computed == 8


def _fail_for(failing, spec) -> None:
    from crossrisk_bench.errors import CrossriskError

    if spec.id == failing.id:
        raise CrossriskError("this cell fails")


def test_the_run_thread_count_reaches_work_without_its_own() -> None:
    from crossrisk_bench.models.torch_state import default_threads, run_threads

    outside = default_threads()
    with run_threads(1):
        assert default_threads() == 1
        with run_threads(None):
            assert default_threads() == outside
    assert default_threads() == outside
