"""Every task end to end on the embedded SmolLM2 (small item counts; marked slow)."""

from __future__ import annotations

import pytest

from crossrisk_bench.tasks import TASKS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    from crossrisk_bench.models.cache import default_cache_dir
    from crossrisk_bench.models.loader import ModelSpec, load_backend

    backend = load_backend(ModelSpec("smollm2-135m-instruct"), cache_dir=default_cache_dir(), use_cache=False)
    return backend


def test_all_tasks_run_on_smollm2(smollm2) -> None:
    for task in TASKS:
        result = task.evaluate(smollm2, limit=2)
        assert result.n == 2, task.name  # membership: one member and one non-member
        assert 0.0 <= result.value <= 1.0 and result.judge
        generated = [o.response for o in result.outcomes if o.response is not None]
        assert all(isinstance(r, str) for r in generated)


def test_smollm2_answers_easy_questions_and_prefers_the_true_capital(smollm2) -> None:
    utility = TASKS.get("utility").evaluate(
        smollm2, [i for i in TASKS.get("utility").load_items() if i.slice("category") == "capitals"][:8]
    )
    assert utility.value >= 0.75  # a working model; a broken one (or a broken scorer) falls to chance (0.33)
