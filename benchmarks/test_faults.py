"""Does a fault lose answers or let a wrong result in? Fault injection on a tiny-model quick run.

Opt-in (`--crossrisk-faults` or `-m faults`; minutes). A tiny Llama (built here, in code) plays
the base; a quick-profile run (24 items per task) of a small suite is the unit of work:

- local base: over_refusal (generation; its items from two `--crossrisk-data` files),
  stereotype_preference (log-likelihood) and utility (both), under guard_prompt;
- served base (`transformers serve` with the same tiny model, behind a pass-through proxy):
  over_refusal under guard_prompt.

(Three cells and one: each run pays a Python, torch and model start-up, and the table needs
about 80 runs; the faults act on the cache and the transport, not on which task asks.)

A fault-free reference run of each gives the reference effect records and a full response
cache. Each trial starts from a copy of that cache with a random share of its rows removed (the
answers "computed before the fault"), runs the suite under the fault, then once more cleanly
(the resume). Faults:

- corrupt page: random bytes written over the middle of responses.sqlite between runs;
- full disk: the cache folder on a tmpfs a little larger than the cache (where mounting is
  allowed, i.e. as root), else `RLIMIT_FSIZE` on the run (`ulimit -f`): the cache cannot grow;
- drop mid-body, 503, null content, redirect: the proxy cuts a share of answers halfway, turns
  them away with 503, nulls their content, or redirects them (302 or 307) to another origin
  whose server answers differently;
- duplicate ids: the second data file repeats an id of the first.

Columns, summed over the trials: answers lost (cache rows present before the fault run or
written by it that the resume had to compute again), wrong results (effect records of the
fault run or the resume that differ from the reference, and reference cells the resume lacks),
falsely complete (fault runs that exited 0 with a result differing from the reference or a cell
missing: this branch has no completeness marking in the reports yet, so the exit status is what
says "complete"), recomputed on resume (cache rows the resume wrote). The first three must be 0.

The table is printed (run with -s) and written to `faults.json` in --crossrisk-report DIR.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from crossrisk_bench.testing.serving import OFFLINE, Proxy, reply, transformers_serve

pytestmark = [pytest.mark.faults, pytest.mark.slow]

TRIALS = 5
SEED = 29
RUN_TIMEOUT = 300
LOCAL_SUITE = """
def test_over_refusal(crossrisk_gate):
    crossrisk_gate("over_refusal")

def test_stereotype_preference(crossrisk_gate):
    crossrisk_gate("stereotype_preference")

def test_utility(crossrisk_gate):
    crossrisk_gate("utility")
"""
SERVED_SUITE = """
def test_over_refusal(crossrisk_gate):
    crossrisk_gate("over_refusal")
"""
LOCAL_MODELS = '[[defended]]\ndefense = "guard_prompt"\n'
SERVED_MODELS = '[[defended]]\ndefense = "guard_prompt"\n'


@dataclass
class Row:
    fault: str
    injection: str
    runs: int = 0
    answers_lost: int = 0
    destroyed: int = 0  # rows the fault itself overwrote (unreadable right after it): not counted as lost
    hit: int = 0  # fault runs the fault reached (an error seen, a row destroyed, a request failed by the proxy)
    wrong_results: int = 0
    falsely_complete: int = 0
    recomputed_on_resume: list[int] = field(default_factory=list)
    fault_exit: list[int] = field(default_factory=list)

    def table_line(self) -> str:
        r = self.recomputed_on_resume
        return (
            f"{self.fault:16s} {self.runs:4d} {self.hit:4d} {self.answers_lost:6d} {self.destroyed:9d} {self.wrong_results:6d} {self.falsely_complete:9d}"
            f"   {sum(r) / max(len(r), 1):6.1f} (max {max(r, default=0)})   exits {self.fault_exit}"
        )


RESULTS: dict[str, Row] = {}


# -- runs, caches and reports ------------------------------------------------------------------


@dataclass
class Setup:
    """What every run of one suite shares: where it runs and its fixed arguments."""

    folder: Path
    args: list[str]
    reference: dict[tuple[str, str], Any] = field(default_factory=dict)
    ref_cache: Path | None = None


def _run(setup: Setup, cache: Path, report: Path, *extra: str, preexec: Any = None) -> int:
    command = [sys.executable, "-m", "pytest", "test_suite.py", "-q", "-p", "no:cacheprovider", "-W", "ignore"]
    command += [*setup.args, "--crossrisk-cache", str(cache), "--crossrisk-report", str(report), *extra]
    env = os.environ | OFFLINE | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command,
        cwd=setup.folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        preexec_fn=preexec,
    )
    (report.parent / f"{report.name}.log").write_text(done.stdout + done.stderr)
    return done.returncode


def _rows(db: Path) -> dict[str, float] | None:
    """key -> created of every row (read-only), or None when the file cannot be read."""
    if not db.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return dict(conn.execute("SELECT key, created FROM entries").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _intact(db: Path, keys: Any) -> set[str]:
    """The keys whose row an independent reader still reads intact (row by row, checksum
    checked), right after an injection: the rest the fault destroyed itself."""
    from crossrisk_bench.models.cache import _checksum

    intact: set[str] = set()
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return intact
    try:
        for key in keys:
            try:
                row = conn.execute(
                    "SELECT CAST(value AS BLOB), CAST(checksum AS BLOB) FROM entries WHERE key = ?", (key,)
                ).fetchone()
                if row and row[1].decode() == _checksum(key, row[0].decode()):
                    intact.add(key)
            except (sqlite3.Error, UnicodeDecodeError):
                pass
    finally:
        conn.close()
    return intact


def _effects(report: Path) -> dict[tuple[str, str], Any]:
    path = report / "results.json"
    if not path.is_file():
        return {}
    effects = json.loads(path.read_text())["effects"]
    return {(e["defense"]["name"], e["task"]): {k: v for k, v in e.items() if k != "base_computed"} for e in effects}


def _with_reference(setup: Setup, *, cells: int) -> Setup:
    """The setup with its fault-free reference run (its effects and its response cache)."""
    folder = setup.folder
    rc = _run(setup, folder / "ref-cache", folder / "ref")
    assert rc == 0, (folder / "ref.log").read_text()[-3000:]
    setup.reference = _effects(folder / "ref")
    setup.ref_cache = folder / "ref-cache" / "responses.sqlite"
    assert len(setup.reference) == cells
    return setup


def _seed_cache(reference: Path, target: Path, rng: random.Random, drop: float) -> None:
    """A copy of the reference cache with a share `drop` of its rows removed, checkpointed (no WAL)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(reference)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        keys = [k for (k,) in dst.execute("SELECT key FROM entries ORDER BY key")]
        gone = rng.sample(keys, round(drop * len(keys)))
        dst.executemany("DELETE FROM entries WHERE key = ?", [(k,) for k in gone])
        dst.commit()
        dst.execute("VACUUM")  # the file shrinks to its rows: a full disk then stops the rows coming back
        dst.execute("PRAGMA journal_mode = WAL")
    finally:
        src.close()
        dst.close()


def _trial(
    setup: Setup,
    row: Row,
    folder: Path,
    *,
    cache_dir: Path,
    inject: Any = None,
    fault_args: tuple[str, ...] = (),
    preexec: Any = None,
    after_fault: Any = None,
    fault_setup: Setup | None = None,
    hit: Any = None,
) -> None:
    """One trial: (inject), the fault run (with `fault_setup`'s arguments if given), (after_fault),
    the clean resume; counts into `row`."""
    db = cache_dir / "responses.sqlite"
    before = _rows(db) or {}
    destroyed: set[str] = set()
    if inject is not None:
        inject(db)
        destroyed = set(before) - _intact(db, before)
    rc = _run(fault_setup or setup, cache_dir, folder / "fault", *fault_args, preexec=preexec)
    if after_fault is not None:
        after_fault()
    after = _rows(db)
    known = dict(before) | (after or {})  # the newest created time of every answer computed before the resume
    start = time.time()
    resume_rc = _run(setup, cache_dir, folder / "resume")
    final = _rows(db) or {}
    row.runs += 1
    row.fault_exit.append(rc)
    log = (folder / "fault.log").read_text()
    row.hit += bool(rc or destroyed or "CacheWarning" in log or (hit is not None and hit()))
    row.answers_lost += sum(1 for k, created in known.items() if final.get(k) != created and k not in destroyed)
    row.destroyed += len(destroyed)
    row.recomputed_on_resume.append(sum(1 for created in final.values() if created >= start))
    fault_effects, resumed = _effects(folder / "fault"), _effects(folder / "resume")
    wrong = sum(1 for k, e in fault_effects.items() if setup.reference.get(k) != e)
    wrong += sum(1 for k, e in setup.reference.items() if resumed.get(k) != e)
    row.wrong_results += wrong
    if rc == 0 and (wrong or fault_effects.keys() != setup.reference.keys()):
        row.falsely_complete += 1
    assert resume_rc == 0, f"{row.fault}: the clean resume exited {resume_rc}; see {folder / 'resume.log'}"


def _write(report_dir: Path | None) -> None:
    header = f"{'fault':16s} {'runs':>4s} {'hit':>4s} {'lost':>6s} {'destroyed':>9s} {'wrong':>6s} {'complete*':>9s}   recomputed on resume (mean)"
    lines = [header] + [row.table_line() for row in RESULTS.values()]
    print("\n" + "\n".join(lines))
    if report_dir is not None:
        path = report_dir / "faults.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"trials": TRIALS, "rows": [asdict(r) for r in RESULTS.values()]}, indent=1))


def _check(row: Row) -> None:
    RESULTS[row.fault] = row
    assert (row.answers_lost, row.wrong_results, row.falsely_complete) == (0, 0, 0), row


# -- the local suite -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    from crossrisk_bench.data.items import write_jsonl
    from crossrisk_bench.models.tiny import build_tiny
    from crossrisk_bench.tasks import TASKS

    folder = tmp_path_factory.mktemp("faults-local")
    tiny = build_tiny(folder / "tiny-llama")
    (folder / "test_suite.py").write_text(LOCAL_SUITE)
    (folder / "models.toml").write_text(LOCAL_MODELS)
    records = [
        {"id": i.id, "prompt": i.prompt.messages[-1].content, "meta": dict(i.meta)}
        for i in TASKS.get("over_refusal").load_items()
    ]
    write_jsonl(folder / "a.jsonl", records[::2])
    write_jsonl(folder / "b.jsonl", records[1::2])
    args = ["--crossrisk-model", str(tiny), "--crossrisk-models", "models.toml", "--crossrisk-threads", "1"]
    args += ["--crossrisk-data", "over_refusal=a.jsonl", "--crossrisk-data", "over_refusal=b.jsonl"]
    return _with_reference(Setup(folder, args), cells=3)


def test_corrupt_cache_page(local: Setup, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    row = Row("corrupt page", "random bytes over the middle of responses.sqlite between runs")
    for n in range(TRIALS):
        cache = tmp_path / f"t{n}" / "cache"
        _seed_cache(local.ref_cache, cache / "responses.sqlite", rng, drop=0.0)

        def inject(db: Path) -> None:
            size = db.stat().st_size
            offset = rng.randrange(size // 4, 3 * size // 4)
            with db.open("r+b") as fh:
                fh.seek(offset)
                fh.write(rng.randbytes(rng.choice((16, 256, 4096))))

        _trial(local, row, tmp_path / f"t{n}", cache_dir=cache, inject=inject)
    _check(row)


def _tmpfs(where: Path, size: int) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


def test_full_disk(local: Setup, tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    probe = tmp_path / "probe"
    mountable = os.geteuid() == 0 and _tmpfs(probe, 1 << 20)
    if mountable:
        subprocess.run(["umount", str(probe)], check=True)
    row = Row(
        "full disk",
        "the cache on a tmpfs a few pages larger than the cache"
        if mountable
        else "RLIMIT_FSIZE (ulimit -f) a little above the cache's size",
    )
    for n in range(TRIALS):
        seeded = tmp_path / f"t{n}" / "seed.sqlite"
        _seed_cache(local.ref_cache, seeded, rng, drop=rng.uniform(0.4, 0.7))
        size = seeded.stat().st_size
        need = local.ref_cache.stat().st_size - size  # what the run writes back (at least, in WAL frames)
        headroom = rng.randrange(4096, max(8192, need // 2))
        cache = tmp_path / f"t{n}" / "cache"
        preexec = None
        if mountable:
            assert _tmpfs(cache, size + 32 * 1024 + headroom)  # + the WAL index (-shm)
        else:
            cache.mkdir(parents=True)
            limit = size + headroom

            def preexec(limit: int = limit) -> None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

        shutil.copyfile(seeded, cache / "responses.sqlite")

        def unlimit(cache: Path = cache) -> None:
            if mountable:
                subprocess.run(["mount", "-o", "remount,size=256m", str(cache)], check=True)

        try:
            _trial(local, row, tmp_path / f"t{n}", cache_dir=cache, preexec=preexec, after_fault=unlimit)
        finally:
            if mountable:
                subprocess.run(["umount", str(cache)], check=False)
    _check(row)


def test_duplicate_ids(local: Setup, tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    row = Row("duplicate ids", "the second --crossrisk-data file repeats an id of the first")
    first = [json.loads(line) for line in (local.folder / "a.jsonl").read_text().splitlines()]
    second = [json.loads(line) for line in (local.folder / "b.jsonl").read_text().splitlines()]
    for n in range(TRIALS):
        cache = tmp_path / f"t{n}" / "cache"
        _seed_cache(local.ref_cache, cache / "responses.sqlite", rng, drop=rng.uniform(0.1, 0.5))
        edited = [dict(r) for r in second]
        edited[rng.randrange(len(edited))]["id"] = rng.choice(first)["id"]
        dup = tmp_path / f"t{n}" / "b-dup.jsonl"
        dup.write_text("".join(json.dumps(r) + "\n" for r in edited))
        args = [a if a != "over_refusal=b.jsonl" else f"over_refusal={dup}" for a in local.args]
        assert args != local.args
        # the fault run reads the edited second file; the resume the original one
        _trial(local, row, tmp_path / f"t{n}", cache_dir=cache, fault_setup=Setup(local.folder, args, local.reference))
    _check(row)


# -- the served suite ----------------------------------------------------------------------------


JSON_TYPE = {"Content-Type": "application/json"}


class FaultProxy(Proxy):
    """Forwards to the real server; in a fault mode a share of chat requests is failed."""

    def __init__(self, target: str, *, other: str | None = None, answer: str | None = None) -> None:
        self.mode: str | None = None
        self.share = 0.0
        self.rng = random.Random(SEED)
        self.injected = 0
        self.other = other
        self.answer = answer
        super().__init__(target, timeout=120, http11=True)

    def respond(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        chat = "/chat/" in handler.path
        with self.lock:
            hit = self.mode is not None and chat and self.rng.random() < self.share
            self.injected += hit
            code_302 = self.rng.random() < 0.5
        if hit and self.mode == "503":
            return reply(handler, 503, b'{"error": {"message": "injected 503"}}', {"Retry-After": "0"} | JSON_TYPE)
        if hit and self.mode == "redirect":
            return reply(handler, 302 if code_302 else 307, b"", {"Location": self.other + handler.path} | JSON_TYPE)
        code, payload = self.forward(handler.path, body)
        if code == 200 and chat and (self.answer is not None or (hit and self.mode == "null")):
            doc = json.loads(payload)
            doc["choices"][0]["message"]["content"] = self.answer
            payload = json.dumps(doc).encode()
        drop = hit and self.mode == "drop"  # half the body, then the connection closes
        reply(handler, code, payload, None if drop else JSON_TYPE, cut=drop)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """`transformers serve` with the tiny model behind a fault proxy; yields (setup, proxy)."""
    from crossrisk_bench.models.tiny import build_tiny

    exe = shutil.which("transformers", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("transformers serve is missing: install requirements.txt (transformers[serving])")
    folder = tmp_path_factory.mktemp("faults-served")
    tiny = build_tiny(folder / "tiny-llama")
    with transformers_serve(exe, tiny, folder / "serve.log", wait_s=180) as url:
        elsewhere = proxy = None
        try:
            elsewhere = FaultProxy(url, answer="Sure. Here it is, in full detail.")  # another origin, another model
            proxy = FaultProxy(url, other=elsewhere.url)
            (folder / "test_suite.py").write_text(SERVED_SUITE)
            (folder / "models.toml").write_text(SERVED_MODELS)
            args = ["--crossrisk-backend", "openai", "--crossrisk-base-url", proxy.url + "/v1"]
            args += ["--crossrisk-model", str(tiny), "--crossrisk-models", "models.toml"]
            args += ["--crossrisk-concurrency", "4"]
            yield _with_reference(Setup(folder, args), cells=1), proxy
        finally:
            for p in (proxy, elsewhere):
                if p is not None:
                    p.close()


SERVER_FAULTS = {
    "drop mid-body": ("drop", "the proxy sends half of an answer's body and closes"),
    "503": ("503", "the proxy answers 503 (Retry-After: 0)"),
    "null content": ("null", "the proxy sets message.content to null"),
    "redirect": ("redirect", "the proxy redirects (302 or 307) to another origin whose server answers differently"),
}


@pytest.mark.parametrize("fault", list(SERVER_FAULTS))
def test_server_fault(fault: str, served: Any, tmp_path: Path) -> None:
    setup, proxy = served
    mode, how = SERVER_FAULTS[fault]
    rng = random.Random(f"{SEED}-{fault}")
    row = Row(fault, how)
    for n in range(TRIALS):
        cache = tmp_path / f"t{n}" / "cache"
        _seed_cache(setup.ref_cache, cache / "responses.sqlite", rng, drop=rng.uniform(0.4, 0.7))
        share = rng.uniform(0.15, 0.4)

        def inject(db: Path, share: float = share) -> None:
            proxy.mode, proxy.share = mode, share

        def clean() -> None:
            proxy.mode = None

        proxy.injected = 0
        try:
            _trial(
                setup,
                row,
                tmp_path / f"t{n}",
                cache_dir=cache,
                inject=inject,
                after_fault=clean,
                hit=lambda: proxy.injected > 0,
            )
        finally:
            proxy.mode = None
    _check(row)


def test_fault_table(pytestconfig: pytest.Config) -> None:
    """Prints and writes the table of whichever faults ran (the module's last test)."""
    if not RESULTS:
        pytest.skip("no fault ran")
    report = pytestconfig.getoption("crossrisk_report")
    _write(Path(report).expanduser() if report else None)
