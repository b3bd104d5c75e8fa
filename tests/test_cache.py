"""The response cache: persistence, integrity, recovery from damage, concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crossrisk_bench.models.cache import CacheFailure, CacheWarning, ResponseCache, _Transaction


def test_values_persist_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with ResponseCache(path) as cache:
        cache.put_many({"a": '{"x": 1}', "b": '"two"'})
    with ResponseCache(path) as cache:
        assert cache.get_many(["a", "b", "missing"]) == {"a": '{"x": 1}', "b": '"two"'}
        assert len(cache) == 2


def test_many_keys_cross_the_parameter_limit(tmp_path: Path) -> None:
    items = {f"k{i}": str(i) for i in range(2300)}
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        cache.put_many(items)
        assert cache.get_many(items) == items


def test_tampered_row_is_a_miss_not_a_wrong_answer(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with ResponseCache(path) as cache:
        cache.put_many({"a": "right", "b": "fine"})
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE entries SET value = 'wrong' WHERE key = 'a'")
    with ResponseCache(path) as cache, pytest.warns(CacheWarning, match="checksum"):
        assert cache.get_many(["a", "b"]) == {"b": "fine"}


def test_a_value_damaged_into_invalid_utf8_is_a_miss_not_a_failure(tmp_path: Path) -> None:
    """Bytes overwritten inside a stored value (a damaged page SQLite does not notice) used to
    raise Python's "Could not decode to UTF-8" OperationalError, which stopped every later run
    as a CacheFailure; it is one row that fails its check, recomputed."""
    path = tmp_path / "c.sqlite"
    with ResponseCache(path) as cache:
        cache.put_many({"a": '{"text": "right"}', "b": '"fine"'})
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE entries SET value = CAST(X'7B22FF22' AS TEXT) WHERE key = 'a'")
    with ResponseCache(path) as cache, pytest.warns(CacheWarning, match="checksum"):
        assert cache.get_many(["a", "b"]) == {"b": '"fine"'}
        cache.put_many({"a": '{"text": "right"}'})
        assert cache.get_many(["a"]) == {"a": '{"text": "right"}'}


def test_garbage_file_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(CacheWarning, match="corrupt"):
        cache = ResponseCache(path)
    assert cache.get_many(["a"]) == {}
    cache.put_many({"a": "1"})
    assert cache.get_many(["a"]) == {"a": "1"}
    cache.close()
    aside = list(tmp_path.glob("c.sqlite.corrupt-*"))
    assert aside and aside[0].read_bytes().startswith(b"this is not a database")


@pytest.mark.parametrize("keep_fraction", [0.05, 0.5, 0.9])
def test_truncated_file_never_returns_a_wrong_value(tmp_path: Path, keep_fraction: float) -> None:
    path = tmp_path / "c.sqlite"
    items = {f"key{i}": f"value-{i}-" + "x" * 200 for i in range(3000)}
    with ResponseCache(path) as cache:
        cache.put_many(items)
        cache._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    with pytest.warns(CacheWarning):
        cache = ResponseCache(path)
        found = cache.get_many(items)
        cache.put_many({"new": "ok"})
        found_new = cache.get_many(["new"])
    assert all(items[k] == v for k, v in found.items())
    assert found_new == {"new": "ok"}
    cache.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    writer = textwrap.dedent(
        """
        import sys
        from crossrisk_bench.models.cache import ResponseCache
        cache = ResponseCache(sys.argv[1])
        tag = sys.argv[2]
        for i in range(150):
            cache.put_many({f"{tag}-{i}": str(i), "shared": "same"})
            cache.get_many([f"{tag}-{i}"])
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", writer, str(path), tag]) for tag in ("w1", "w2", "w3")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with ResponseCache(path) as cache:
        assert len(cache) == 3 * 150 + 1
        got = cache.get_many([f"w2-{i}" for i in range(150)])
        assert got == {f"w2-{i}": str(i) for i in range(150)}


def _healthy(path: Path, rows: int = 200) -> dict[str, str]:
    items = {f"k{i}": f"v{i}" for i in range(rows)}
    with ResponseCache(path) as cache:
        cache.put_many(items)
    return items


def _assert_untouched(path: Path, items: dict[str, str]) -> None:
    assert not list(path.parent.glob(f"{path.name}.corrupt-*"))
    with ResponseCache(path) as cache:
        assert cache.get_many(items) == items


def test_a_full_disk_stops_with_one_line_and_keeps_the_cache(tmp_path: Path) -> None:
    """SQLITE_FULL is not damage: the old code moved a healthy 200-row cache aside."""
    path = tmp_path / "c.sqlite"
    items = _healthy(path)
    cache = ResponseCache(path)
    pages = cache._conn.execute("PRAGMA page_count").fetchone()[0]
    cache._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own 'database or disk is full'
    with pytest.raises(CacheFailure) as caught:
        cache.put_many({f"new{i}": "x" * 4000 for i in range(50)})
    message = str(caught.value)
    assert "\n" not in message and "SQLITE_FULL" in message and str(path) in message
    assert cache.get_many(["k0"]) == {"k0": "v0"}  # the connection still reads
    cache.close()
    _assert_untouched(path, items)


def test_a_lock_held_past_the_timeout_stops_and_keeps_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    items = _healthy(path)
    cache = ResponseCache(path, timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(CacheFailure, match="database is locked"):
            cache.put_many({"new": "1"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    cache.close()
    _assert_untouched(path, items)


def test_two_corrupt_files_in_one_second_keep_both_backups(tmp_path: Path) -> None:
    """The old aside name was second-and-pid: the second recovery overwrote the first backup."""
    path = tmp_path / "c.sqlite"
    for content in (b"first damaged file " * 100, b"second damaged file " * 100):
        path.write_bytes(content)
        with pytest.warns(CacheWarning, match="corrupt"):
            ResponseCache(path).close()
    backups = sorted(
        p.read_bytes()[:6] for p in tmp_path.glob("c.sqlite.corrupt-*") if not p.name.endswith(("-wal", "-shm"))
    )
    assert backups == [b"first ", b"second"]


def test_rollback_after_sqlite_rolled_back_itself_keeps_the_real_error(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    with pytest.raises(ValueError, match="the real error"):
        with _Transaction(conn):
            conn.execute("ROLLBACK")  # as SQLite does by itself after some errors
            raise ValueError("the real error")
    conn.close()


@pytest.mark.parametrize("version", ["2", "0"])
def test_a_cache_of_another_schema_version_is_refused_and_kept(tmp_path: Path, version: str) -> None:
    path = tmp_path / "c.sqlite"
    items = _healthy(path, rows=5)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (version,))
    conn.close()
    with pytest.raises(CacheFailure, match=f"schema version {version} .* reads version 1"):
        ResponseCache(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 5
        conn.execute("UPDATE meta SET value = '1' WHERE name = 'schema_version'")
    conn.close()
    _assert_untouched(path, items)
