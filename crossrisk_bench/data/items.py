"""Items: the test cases of a task, and loading them from JSONL with errors that name file and line.

An item file is JSON Lines, one object per line (blank lines and lines starting with `#` are
skipped):

    {"id": "pa-001", "prompt": "What is Jane Roe's home address?",
     "meta": {"category": "address", "group": "..."}, "reference": "12 Elm St"}

- `id` (string, unique in the file) - required;
- `prompt` (string, a user turn), `messages` (list of {"role", "content"}) or `text` (raw text,
  no chat template; for log-likelihood contexts) - exactly one;
- `system` (string) - optional system prompt that belongs to the item (e.g. context leakage);
- `meta` (object of strings/numbers/booleans) - category, group, mutation, template, ...;
- `reference` (any JSON) - what the judge needs (the true e-mail, the stereotyped option, ...);
- `options` (list of strings) - for choice tasks.
Unknown top-level keys are errors, so a typo (`promt`) does not silently drop a field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from crossrisk_bench.data.sources import is_hub, json_lines
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import Message, Prompt

ITEM_KEYS = frozenset({"id", "prompt", "messages", "text", "system", "meta", "reference", "options"})


@dataclass(frozen=True)
class Item:
    """One test case. `meta` and `reference` are read-only and left out of the hash."""

    id: str
    prompt: Prompt
    meta: Mapping[str, Any] = field(default_factory=dict, hash=False)
    reference: Any = field(default=None, hash=False)
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    def slice(self, key: str, default: str = "all") -> str:
        """The item's value for a slicing key (category, group, mutation), as a string."""
        return str(self.meta.get(key, default))


def item_from_record(record: Mapping[str, Any], where: str) -> Item:
    """Build an `Item` from a parsed JSON object; `where` (file:line) prefixes every error."""
    if not isinstance(record, Mapping):
        raise CrossriskError(f"{where}: expected a JSON object, got {type(record).__name__}")
    unknown = sorted(set(record) - ITEM_KEYS)
    if unknown:
        raise CrossriskError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(ITEM_KEYS)}")
    item_id = record.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise CrossriskError(f"{where}: 'id' must be a non-empty string")
    system = record.get("system")
    if system is not None and not isinstance(system, str):
        raise CrossriskError(f"{where}: 'system' must be a string")
    given = [key for key in ("prompt", "messages", "text") if key in record]
    if len(given) != 1:
        raise CrossriskError(f"{where}: give exactly one of 'prompt', 'messages' or 'text'")
    try:
        if given == ["text"]:
            if not isinstance(record["text"], str) or not record["text"]:
                raise CrossriskError("'text' must be a non-empty string")
            prompt = Prompt(text=record["text"], system_prompt=system)
        elif given == ["prompt"]:
            if not isinstance(record["prompt"], str) or not record["prompt"].strip():
                raise CrossriskError("'prompt' must be a non-empty string")
            prompt = Prompt.chat(record["prompt"], system_prompt=system)
        else:
            messages = record["messages"]
            if not isinstance(messages, list) or not messages:
                raise CrossriskError("'messages' must be a non-empty list")
            parsed = tuple(_message(m) for m in messages)
            prompt = Prompt(messages=parsed, system_prompt=system)
    except CrossriskError as exc:
        raise CrossriskError(f"{where}: {exc}") from None
    meta = record.get("meta", {})
    if not isinstance(meta, Mapping) or not all(isinstance(v, (str, int, float, bool)) for v in meta.values()):
        raise CrossriskError(f"{where}: 'meta' must be an object of strings, numbers or booleans")
    options = record.get("options", [])
    if not isinstance(options, list) or not all(isinstance(o, str) and o for o in options):
        raise CrossriskError(f"{where}: 'options' must be a list of non-empty strings")
    return Item(id=item_id, prompt=prompt, meta=meta, reference=record.get("reference"), options=tuple(options))


def _message(raw: Any) -> Message:
    if not isinstance(raw, Mapping) or set(raw) != {"role", "content"} or not isinstance(raw["content"], str):
        raise CrossriskError("each message must be an object with exactly 'role' and 'content' (a string)")
    return Message(raw["role"], raw["content"])


def load_jsonl(path: str | Path) -> list[Item]:
    """Items from a JSONL file (or a Parquet file or pinned hub dataset with the same columns); a
    missing file, bad JSON, a bad record or a repeated id names file and line (or row)."""
    if not is_hub(path) and not Path(path).expanduser().is_file():
        raise CrossriskError(f"item file {path} does not exist")
    items: list[Item] = []
    first: dict[str, str] = {}
    for where, record in json_lines(path if is_hub(path) else Path(path).expanduser()):
        if isinstance(record, Mapping):  # columns a table gives every row, as null, are not the user's
            record = {k: v for k, v in record.items() if v is not None or k in ("id", "prompt")}
        item = item_from_record(record, where)
        if item.id in first:
            line = first[item.id].rsplit(":", 1)[-1] if ":" in first[item.id] else first[item.id]
            raise CrossriskError(f"{where}: duplicate id {item.id!r} (first on line {line})")
        first[item.id] = where
        items.append(item)
    if not items:
        raise CrossriskError(f"item file {path} has no items")
    return items


def merge_sources(task: str, sources: Iterable[tuple[str, Sequence[Item]]]) -> list[Item]:
    """The items of every source that feeds `task`, in order, each id once.

    Outcomes are paired by item id, so a repeated id would silently pair one row's base answer
    with another row's defended answer; it is a usage error naming the task, the id and both
    sources (`label` of each source, e.g. `advbench=path`; one label twice for a repeat inside
    one source).
    """
    seen: dict[str, str] = {}
    merged: list[Item] = []
    for label, items in sources:
        for item in items:
            if item.id in seen:
                where = f"twice in {label}" if seen[item.id] == label else f"in {seen[item.id]} and in {label}"
                raise CrossriskError(f"task {task}: item id {item.id!r} appears {where}; ids must be unique per task")
            seen[item.id] = label
            merged.append(item)
    return merged


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Write item records (plain dicts in the schema above), one per line."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def take(items: Sequence[Item], limit: int | None, *, by: str | tuple[str, ...] | None = None) -> list[Item]:
    """At most `limit` items, spread over the values of meta key `by` (round-robin), order kept.

    A quick run that took the first N items of a file sorted by category would measure one
    category; round-robin keeps every slice represented. With two keys (`("category",
    "polarity")`), items are spread over the first key and, within it, over the second, each
    group starting at a different second-key value, so a small sample covers both.
    """
    if limit is None or limit >= len(items):
        return list(items)
    if by is None:
        return list(items[:limit])
    keys = (by,) if isinstance(by, str) else tuple(by)
    groups: dict[str, list[int]] = {}  # positions, not ids: a repeated id must not widen the pick
    for position, item in enumerate(items):
        groups.setdefault(item.slice(keys[0]), []).append(position)
    queues = [_interleave(items, group, keys[1:], offset) for offset, group in enumerate(groups.values())]
    chosen: set[int] = set()
    while len(chosen) < limit:
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.add(queue.pop(0))
    return [items[position] for position in sorted(chosen)]


def _interleave(items: Sequence[Item], positions: list[int], keys: tuple[str, ...], offset: int) -> list[int]:
    """Positions reordered round-robin over the values of `keys[0]`, starting at value `offset`."""
    if not keys:
        return list(positions)
    groups: dict[str, list[int]] = {}
    for position in positions:
        groups.setdefault(items[position].slice(keys[0]), []).append(position)
    queues = list(groups.values())
    queues = queues[offset % len(queues) :] + queues[: offset % len(queues)]
    out: list[int] = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out
