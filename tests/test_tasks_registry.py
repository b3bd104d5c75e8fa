"""Every task: its embedded items match their builder and load cleanly."""

from __future__ import annotations

import json

import pytest

from crossrisk_bench.paths import items_path
from crossrisk_bench.tasks import ITEM_BUILDERS, TASKS


@pytest.mark.parametrize("name", sorted(ITEM_BUILDERS))
def test_committed_items_match_their_builder(name: str) -> None:
    committed = [json.loads(line) for line in items_path(name).read_text().splitlines() if line.strip()]
    assert committed == ITEM_BUILDERS[name](), f"fixtures/items/{name}.jsonl is stale: run `crossrisk items build`"


@pytest.mark.parametrize("task", list(TASKS), ids=lambda t: t.name)
def test_items_load_with_unique_ids(task) -> None:
    items = task.load_items()
    assert len(items) >= 60 and len({i.id for i in items}) == len(items)
    if task.balance_by:
        keys = (task.balance_by,) if isinstance(task.balance_by, str) else task.balance_by
        assert all(key in i.meta for i in items for key in keys)
