"""One registry for every named thing a user picks (tasks, defenses, profiles, datasets, zoo
members): entries by name, in registration order, and one error for a name that is not there,
listing the known ones, in the way Inspect registers scorers and lm-eval registers metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from crossrisk_bench.errors import CrossriskError

T = TypeVar("T")
_MISSING: Any = object()


class Registry(Generic[T]):
    """Entries keyed by `key(entry)`; iterating gives the entries, `names()` their names."""

    def __init__(self, kind: str, key: Callable[[T], str], entries: Iterable[T] = (), *, plural: str | None = None):
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self._key = key
        self._entries: dict[str, T] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: T) -> T:
        name = self._key(entry)
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._entries[name] = entry
        return entry

    def get(self, name: str, default: Any = _MISSING) -> T:
        """The entry named `name`; an unknown name is the one user error (or `default`, if given)."""
        if name in self._entries:
            return self._entries[name]
        if default is not _MISSING:
            return default
        raise CrossriskError(f"unknown {self.kind} {name!r}; known {self.plural}: {', '.join(self._entries)}")

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    # item access replaces an entry: for tests that swap one in (pytest's monkeypatch.setitem)
    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __setitem__(self, name: str, entry: T) -> None:
        self._entries[name] = entry

    def __delitem__(self, name: str) -> None:
        del self._entries[name]
