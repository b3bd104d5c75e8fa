"""A run killed midway resumes from the cache without recomputing what it finished."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from crossrisk_bench.models.base import DecodingConfig, Prompt

PROMPTS = [Prompt.chat(f"Tell me about person number {i} and the {i % 7} red apples.") for i in range(40)]
CONFIG = DecodingConfig(max_new_tokens=24)

RUNNER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from crossrisk_bench.models.loader import ModelSpec, load_backend
    from crossrisk_bench.models.base import DecodingConfig, Prompt
    backend = load_backend(ModelSpec(sys.argv[1]), cache_dir=Path(sys.argv[2]), batch_size=2, threads=1)
    prompts = [Prompt.chat(f"Tell me about person number {i} and the {i % 7} red apples.") for i in range(40)]
    backend.generate(prompts, DecodingConfig(max_new_tokens=24))
    """
)


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_killed_run_resumes_without_recomputing(tiny_dir: Path, tmp_path: Path, make_backend) -> None:
    db = tmp_path / "cache" / "responses.sqlite"
    env = {**os.environ, "CROSSRISK_PROGRESS": "0"}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(tiny_dir), str(tmp_path / "cache")], env=env)
    deadline = time.monotonic() + 120
    while _rows(db) < 6 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = _rows(db)
    assert 6 <= finished < len(PROMPTS), "the run should have been killed midway"

    resumed = make_backend(cache=db, batch_size=2)
    answers = resumed.generate(PROMPTS, CONFIG)
    assert resumed.stats.cache_hits == finished
    assert resumed.stats.computed == len(PROMPTS) - finished
    assert [a.text for a in answers] == [a.text for a in make_backend().generate(PROMPTS, CONFIG)]
