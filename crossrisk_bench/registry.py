"""One registry for every named thing a user picks (tasks, judges, defenses, profiles, datasets,
zoo members): entries by name, in registration order, and one error for a name that is not there,
listing the known ones, in the way Inspect registers scorers and lm-eval registers metrics.
Tasks, judges and defenses also take entries from other installed packages (`extensions`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.extensions import EntryPoints

T = TypeVar("T")
_MISSING: Any = object()


class Registry(Generic[T]):
    """Entries keyed by `key(entry)`; iterating gives the entries, `names()` their names. With
    `entry_points`, the entries installed packages offer join after the built-ins on first use."""

    def __init__(
        self,
        kind: str,
        key: Callable[[T], str],
        entries: Iterable[T] = (),
        *,
        plural: str | None = None,
        entry_points: EntryPoints | None = None,
    ):
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self._key = key
        self._entries: dict[str, T] = {}
        self._entry_points = entry_points
        self._extended = entry_points is None
        for entry in entries:
            self.add(entry)

    def _extend(self) -> None:
        """Add the installed packages' entries, once: lazily, so that importing the registry
        imports none of them; all or none, so that a failed load fails every use the same way."""
        if self._extended:
            return
        assert self._entry_points is not None
        from crossrisk_bench.extensions import load

        self._extended = True  # an extension that reads this registry while it loads sees the built-ins
        try:
            found = load(self._entry_points, self.kind, self._key, self._entries)
        except BaseException:
            self._extended = False
            raise
        for entry in found:
            self._entries[self._key(entry)] = entry

    def add(self, entry: T) -> T:
        name = self._key(entry)
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._entries[name] = entry
        return entry

    def get(self, name: str, default: Any = _MISSING) -> T:
        """The entry named `name`; an unknown name is the one user error (or `default`, if given)."""
        self._extend()
        if name in self._entries:
            return self._entries[name]
        if default is not _MISSING:
            return default
        raise CrossriskError(f"unknown {self.kind} {name!r}; known {self.plural}: {', '.join(self._entries)}")

    def names(self) -> list[str]:
        self._extend()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        self._extend()
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        self._extend()
        return iter(self._entries.values())

    def __len__(self) -> int:
        self._extend()
        return len(self._entries)

    # item access replaces an entry: for tests that swap one in (pytest's monkeypatch.setitem)
    def __getitem__(self, name: str) -> T:
        self._extend()
        return self._entries[name]

    def __setitem__(self, name: str, entry: T) -> None:
        self._extend()
        self._entries[name] = entry

    def __delitem__(self, name: str) -> None:
        self._extend()
        del self._entries[name]
