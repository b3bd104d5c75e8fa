"""Persistent response cache: generate once, score many, resume after a crash.

Any backend gets it the same way, by being wrapped: `CachedBackend(engine, cache)`. An engine
(the local HF model, a served model) only names its work units by a key and computes the ones it
is given; the wrapper answers the rest from the cache.

SQLite in WAL mode, so several pytest-xdist workers read and write one file at once (writers
wait on a busy timeout instead of failing). Each finished batch is committed at once, so a run
killed midway resumes without recomputing any finished request. Every row carries a checksum of
its key and value: a row that does not match (or whose text is no longer UTF-8) is treated as a
miss and recomputed, and a file
SQLite reports as corrupt (SQLITE_CORRUPT, SQLITE_NOTADB: truncated, overwritten) is moved aside
under a name never used before, with a warning, and rebuilt. Any other SQLite error (a full
disk, an I/O error, a lock held past the timeout, a cache written by another schema version)
says nothing about the file's contents: it stops the run with one `CacheFailure` line and leaves
the file as it is. The cache never returns a wrong answer; at worst it recomputes.
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

from crossrisk_bench.errors import CrossriskError, Fatal
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


# SQLite's primary result codes that mean the file's contents are damaged (extended codes such as
# SQLITE_CORRUPT_VTAB carry the primary code in their low byte)
_CORRUPT_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


class CacheWarning(UserWarning):
    """The cache file was corrupt or a row did not match its checksum; work is recomputed."""


class CacheFailure(Fatal):
    """The cache cannot be used for a reason other than damage (disk full, I/O error, lock timeout,
    another schema version): the run stops and the file is left as it is."""


class _Corrupt(Exception):
    """`PRAGMA quick_check` found damage that no statement has raised yet."""


def is_corruption(exc: BaseException) -> bool:
    """Whether an error means the file is damaged (so moving it aside loses nothing healthy)."""
    if isinstance(exc, _Corrupt):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and code & 0xFF in _CORRUPT_CODES


def default_cache_dir() -> Path:
    """`$CROSSRISK_CACHE_DIR`, else `$XDG_CACHE_HOME/crossrisk-bench`, else `~/.cache/crossrisk-bench`."""
    explicit = os.environ.get("CROSSRISK_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "crossrisk-bench"


def _text(column: bytes | None) -> str | None:
    """A column read as bytes, as text; None when damage left it undecodable (the row is a miss)."""
    try:
        return None if column is None else column.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _checksum(key: str, value: str) -> str:
    return hashlib.blake2b(f"{key}\x00{value}".encode(), digest_size=8).hexdigest()


class ResponseCache:
    """A key -> JSON-text store in one SQLite file. Keys are fingerprints (see `fingerprint`)."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 120.0) -> None:
        self.path = Path(path).expanduser()
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._inode: int | None = None  # the file this connection opened (moved aside only if still there)
        self._conn = self._open_checked()

    # -- opening and recovery -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        self._inode = _inode(self.path)
        return conn

    def _open_checked(self) -> sqlite3.Connection:
        try:
            return self._open()
        except sqlite3.Error as exc:
            if not is_corruption(exc):
                raise self._failure(exc) from None
            self._move_aside(str(exc))
        except _Corrupt as exc:
            self._move_aside(str(exc))
        try:
            return self._open()
        except (sqlite3.Error, _Corrupt) as exc:
            raise self._failure(exc) from None

    def _open(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone()
            if ok is None or ok[0] != "ok":
                raise _Corrupt(f"quick_check said {ok!r}")
            self._check_schema(conn)
            conn.executescript(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        """A cache written by another schema version is refused, not read as if it were this one."""
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
            return  # a new file: the schema is created now
        row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        found = row[0] if row else None
        if found == str(SCHEMA_VERSION):
            return
        newer = str(found).isdigit() and int(found) > SCHEMA_VERSION
        raise CacheFailure(
            f"response cache {self.path} has schema version {found} and this crossrisk-bench reads version "
            f"{SCHEMA_VERSION}"
            + ("; upgrade crossrisk-bench" if newer else " (there is no migration from it)")
            + " or point --crossrisk-cache at another folder; the file is left as it is"
        )

    def _failure(self, exc: BaseException) -> CacheFailure:
        if isinstance(exc, CacheFailure):
            return exc
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        return CacheFailure(
            f"response cache {self.path}: {exc} ({name}); the cache is left as it is: "
            "free disk space, stop the process holding it, or point --crossrisk-cache at another folder"
        )

    def _move_aside(self, reason: str) -> None:
        """Move the damaged file (and its WAL) to a name never used before; a file another worker
        has already replaced with a fresh cache is left alone."""
        if self._inode is not None and _inode(self.path) not in (None, self._inode):
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        n = 0
        while True:
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}-{n}")
            if not any(Path(f"{target}{suffix}").exists() for suffix in ("", "-wal", "-shm")):
                break
            n += 1
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            try:
                os.replace(src, Path(f"{target}{suffix}"))
            except FileNotFoundError:
                pass  # another worker moved it first, or it never existed
        warnings.warn(
            f"response cache {self.path} was corrupt ({reason}); moved it to {target} and started a new one",
            CacheWarning,
            stacklevel=3,
        )

    def _recover(self, exc: BaseException) -> None:
        """After a statement failed: damage moves the file aside and opens a new one; anything
        else stops the run with the file as it is."""
        if not is_corruption(exc):
            raise self._failure(exc) from None
        try:
            self._conn.close()
        except sqlite3.Error:
            pass
        self._move_aside(str(exc))
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
                rows = self._conn.execute(  # as bytes: damaged text must not fail the whole read
                    "SELECT CAST(key AS BLOB), CAST(value AS BLOB), CAST(checksum AS BLOB) FROM entries "
                    f"WHERE key IN ({marks})",
                    chunk,
                ).fetchall()
                for row in rows:
                    key, value, checksum = (_text(column) for column in row)
                    if key is not None and value is not None and checksum == _checksum(key, value):
                        found[key] = value
                    else:
                        warnings.warn(
                            f"cache row {(key or '?')[:12]}... failed its checksum; recomputing",
                            CacheWarning,
                            stacklevel=2,
                        )
        except sqlite3.Error as exc:
            self._recover(exc)
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
            except sqlite3.Error as exc:
                if attempt == 2 or not is_corruption(exc):
                    raise self._failure(exc) from None
                self._recover(exc)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    def __len__(self) -> int:
        try:
            return int(self._conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
        except sqlite3.Error as exc:
            raise self._failure(exc) from None

    def clear(self) -> None:
        try:
            with self._transaction():
                self._conn.execute("DELETE FROM entries")
        except sqlite3.Error as exc:
            raise self._failure(exc) from None

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
        """Commit, or roll back what is still open: SQLite itself rolls back after some errors
        (a full disk), and a second ROLLBACK would raise and hide the real error."""
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
                return
            except BaseException:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the error being raised already says what went wrong


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


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
