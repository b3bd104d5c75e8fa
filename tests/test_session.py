"""The session prepares a cell and the gate compares it: asking for the same cell twice gives the
same record (no shared state is consumed), and the base's computed requests are counted in one
cell, so a run's cells add up to what it computed."""

from __future__ import annotations

from pathlib import Path

from crossrisk_bench.config.models_file import load_models
from crossrisk_bench.config.policy import Policy
from crossrisk_bench.data.items import take
from crossrisk_bench.models.loader import ModelSpec
from crossrisk_bench.session import SuiteSession
from crossrisk_bench.settings import Settings
from crossrisk_bench.tasks import TASKS


def test_a_cell_asked_twice_gives_the_same_record(tiny_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[[defended]]\ndefense = "fair_prompt"\n\n[[defended]]\ndefense = "privacy_prompt"\n')
    defenses = load_models(models)
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
        defenses=defenses,
        seed=0,
        batch_size=4,
        threads=1,
    )
    session = SuiteSession(settings)
    items = take(TASKS.get("pii_leakage").load_items(), 8)
    first = [session.gate(spec, "pii_leakage", items)[1] for spec in defenses]
    again = [session.gate(spec, "pii_leakage", items)[1] for spec in defenses]
    assert first == again
    computed = [r.base_computed for r in first]
    assert computed[0] == 8 and computed[1] == 0  # the base's 8 answers, counted in the first cell only
