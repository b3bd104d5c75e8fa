"""Persistent response cache: generate once, score many, resume after a crash.

Any backend gets it the same way, by being wrapped: `CachedBackend(engine, cache)`. An engine
(the local HF model, a served model) only names its work units by a key and computes the ones it
is given; the wrapper answers the rest from the cache.

SQLite in WAL mode, so several pytest-xdist workers read and write one file at once (writers
wait on a busy timeout instead of failing). Each finished batch is committed at once, so a run
killed midway resumes without recomputing any finished request. Every row carries a checksum of
its key and value: a row that does not match is treated as a miss and recomputed, and a file
SQLite cannot read (truncated, overwritten) is moved aside with a warning and rebuilt. The cache
never crashes a run and never returns a wrong answer; at worst it recomputes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import (
    BackendStats,
    Completion,
    DecodingConfig,
    Generation,
    Loglikelihood,
    LoglikelihoodRequest,
    Prompt,
)

SCHEMA_VERSION = 1
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    checksum TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');
"""
_CHUNK = 500  # SQLite's bound-parameter limit is 999 in old builds


class CacheWarning(UserWarning):
    """The cache file was unreadable or a row did not match its checksum; work is recomputed."""


def default_cache_dir() -> Path:
    """`$CROSSRISK_CACHE_DIR`, else `$XDG_CACHE_HOME/crossrisk-bench`, else `~/.cache/crossrisk-bench`."""
    explicit = os.environ.get("CROSSRISK_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "crossrisk-bench"


def _checksum(key: str, value: str) -> str:
    return hashlib.blake2b(f"{key}\x00{value}".encode(), digest_size=8).hexdigest()


class ResponseCache:
    """A key -> JSON-text store in one SQLite file. Keys are fingerprints (see `fingerprint`)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = self._open_checked()

    # -- opening and recovery -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=120, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 120000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _open_checked(self) -> sqlite3.Connection:
        try:
            conn = self._connect()
            ok = conn.execute("PRAGMA quick_check").fetchone()
            if ok is None or ok[0] != "ok":
                conn.close()
                raise sqlite3.DatabaseError(f"quick_check said {ok!r}")
            conn.executescript(_SCHEMA)
            return conn
        except sqlite3.DatabaseError as exc:
            self._move_aside(str(exc))
            conn = self._connect()
            conn.executescript(_SCHEMA)
            return conn

    def _move_aside(self, reason: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            try:
                os.replace(src, Path(f"{target}{suffix}"))
            except FileNotFoundError:
                pass  # another worker moved it first, or it never existed
        warnings.warn(
            f"response cache {self.path} was unreadable ({reason}); moved it to {target} and started a new one",
            CacheWarning,
            stacklevel=3,
        )

    def _recover(self, reason: str) -> None:
        try:
            self._conn.close()
        except sqlite3.Error:
            pass
        self._move_aside(reason)
        self._conn = self._open_checked()

    # -- reads and writes -------------------------------------------------------------------

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """The stored values of the keys that are present and intact."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        try:
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, value, checksum FROM entries WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, value, checksum in rows:
                    if checksum == _checksum(key, value):
                        found[key] = value
                    else:
                        warnings.warn(
                            f"cache row {key[:12]}... failed its checksum; recomputing", CacheWarning, stacklevel=2
                        )
        except sqlite3.DatabaseError as exc:
            self._recover(str(exc))
            return {}
        return found

    def put_many(self, items: Mapping[str, str]) -> None:
        """Store values in one transaction (committed before returning)."""
        if not items:
            return
        rows = [(k, v, _checksum(k, v), time.time()) for k, v in items.items()]
        for attempt in (1, 2):
            try:
                with self._transaction():
                    self._conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", rows)
                return
            except sqlite3.DatabaseError as exc:
                if attempt == 2:
                    warnings.warn(f"could not write to response cache {self.path}: {exc}", CacheWarning, stacklevel=2)
                    return
                self._recover(str(exc))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def clear(self) -> None:
        with self._transaction():
            self._conn.execute("DELETE FROM entries")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def cached_run(
    cache: ResponseCache | None,
    stats: Any,
    units: list[tuple[Any, ...]],
    compute: Callable[[list[tuple[Any, ...]]], Iterator[dict[str, Any]]],
) -> dict[str, Any]:
    """Answer each unit (its key first) from the cache or by computing it, once per key.

    Every backend (local or served) answers through this, so caching, de-duplication and
    resume work the same way. `compute` yields dicts of finished results batch by batch; each
    is written to the cache at once, so an interrupted run keeps everything it finished.
    """
    unique = {u[0]: u for u in units}
    stats.deduplicated += len(units) - len(unique)
    results: dict[str, Any] = {}
    if cache is not None:
        for key, value in cache.get_many(unique).items():
            results[key] = json.loads(value)
        stats.cache_hits += len(results)
    todo = [u for k, u in unique.items() if k not in results]
    if todo:
        for done in compute(todo):
            results.update(done)
            stats.computed += len(done)
            if cache is not None:
                cache.put_many({k: json.dumps(v) for k, v in done.items()})
    return results


Unit = tuple[Any, ...]  # (key, what the engine needs to compute it, ...)


class Engine(Protocol):
    """What a backend that computes answers offers its cache: keys for its work units, and the
    computation of the units that the cache does not hold (batch by batch, as dicts by key)."""

    name: str
    fingerprint: str
    stats: BackendStats

    def generation_units(self, prompts: Sequence[Prompt], config: DecodingConfig) -> list[Unit]: ...

    def run_generations(self, todo: list[Unit], config: DecodingConfig) -> Iterator[dict[str, Any]]: ...

    def loglikelihood_units(self, requests: Sequence[LoglikelihoodRequest]) -> list[Unit]: ...

    def run_loglikelihoods(self, todo: list[Unit]) -> Iterator[dict[str, Any]]: ...


def answer_generations(
    engine: Engine, cache: ResponseCache | None, prompts: Sequence[Prompt], config: DecodingConfig
) -> list[Generation]:
    """`Backend.generate` for an engine: its units (one per prompt and sample), each computed once."""
    if not prompts:
        raise CrossriskError("generate() got an empty list of prompts")
    units = engine.generation_units(prompts, config)
    results = cached_run(cache, engine.stats, units, lambda todo: engine.run_generations(todo, config))
    n = config.n
    return [
        Generation(tuple(Completion(**results[units[j * n + i][0]]) for i in range(n))) for j in range(len(prompts))
    ]


def answer_loglikelihoods(
    engine: Engine, cache: ResponseCache | None, requests: Sequence[LoglikelihoodRequest]
) -> list[Loglikelihood]:
    """`Backend.loglikelihood` for an engine: one unit per request, each computed once."""
    if not requests:
        raise CrossriskError("loglikelihood() got an empty list of requests")
    units = engine.loglikelihood_units(requests)
    results = cached_run(cache, engine.stats, units, engine.run_loglikelihoods)
    return [Loglikelihood(tuple(results[u[0]]["token_logprobs"]), results[u[0]]["is_greedy"]) for u in units]


class CachedBackend:
    """An engine whose answers are kept in a `ResponseCache`: the one way any backend is cached.

    Keys come from the engine (its fingerprint is in every key, so an edited or other model never
    reads another's answers). Everything else (`model`, `tokenizer`, `render`, `lineage`,
    `refresh_fingerprint`, ...) is the engine's, read through; `name` is the engine's too.
    """

    def __init__(self, engine: Any, cache: ResponseCache) -> None:
        if isinstance(engine, CachedBackend):
            raise CrossriskError(f"backend {engine.name!r} is already cached")
        self.engine = engine
        self.cache = cache

    @property
    def name(self) -> str:
        return self.engine.name

    @name.setter
    def name(self, value: str) -> None:
        self.engine.name = value

    @property
    def fingerprint(self) -> str:
        return self.engine.fingerprint

    @property
    def stats(self) -> BackendStats:
        return self.engine.stats

    def generate(self, prompts: Sequence[Prompt], config: DecodingConfig) -> list[Generation]:
        return answer_generations(self.engine, self.cache, prompts, config)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        return answer_loglikelihoods(self.engine, self.cache, requests)

    def with_model(self, model: Any, **kwargs: Any) -> CachedBackend:
        """Another model answered the same way, in the same cache (its own fingerprint keys it)."""
        return CachedBackend(self.engine.with_model(model, **kwargs), self.cache)

    def describe(self) -> dict[str, Any]:
        return {**self.engine.describe(), "cache": str(self.cache.path)}

    def __getattr__(self, attribute: str) -> Any:
        if attribute == "engine":  # not set yet (unpickling): do not recurse
            raise AttributeError(attribute)
        return getattr(self.engine, attribute)


def response_cache(backend: Any) -> ResponseCache | None:
    """The cache a backend answers from, or None for an uncached one."""
    return backend.cache if isinstance(backend, CachedBackend) else None


def cached(backend: Any, cache: ResponseCache | None) -> Any:
    """`backend` answered through `cache` (unchanged when `cache` is None)."""
    return backend if cache is None else CachedBackend(backend, cache)
