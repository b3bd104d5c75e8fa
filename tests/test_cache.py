"""The response cache: persistence, integrity, recovery from damage, concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crossrisk_bench.models.cache import CacheWarning, ResponseCache


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


def test_garbage_file_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(CacheWarning, match="unreadable"):
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
