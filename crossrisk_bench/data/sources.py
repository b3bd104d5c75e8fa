"""Where dataset rows come from: local CSV/JSON Lines files (read here, so errors name file and
line), Parquet files and pinned Hugging Face hub datasets (read through `datasets`, Arrow-backed
and cached under the suite's cache directory).

Why not `datasets` for CSV and JSON Lines too: its Arrow schema unifies the rows of a file, so a
field absent from one row comes back in it as null (measured with datasets 5.2: an item without
`reference` gained `"reference": None`), and a malformed line is reported without its line
number. The item schema rejects what the user did not write, so rows are read as written.

A hub source is written `hf:ORG/NAME@REVISION` with optional `:CONFIG` and `/SPLIT` after the
revision (`hf:heegyu/bbq@3f2a…:Age/test`); the revision is required, so a run is reproducible.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.cache import default_cache_dir

HUB_PREFIX = "hf:"
_HUB = re.compile(r"^hf:(?P<repo>[\w.-]+/[\w.-]+)(@(?P<rev>[\w.\-/]+?))?(:(?P<config>[\w.-]+))?(/(?P<split>[\w.-]+))?$")


def is_hub(source: str | Path) -> bool:
    return str(source).startswith(HUB_PREFIX)


def is_table(source: str | Path) -> bool:
    """Read through `datasets`: a hub dataset or a Parquet file."""
    return is_hub(source) or Path(source).suffix == ".parquet"


def csv_rows(path: str | Path, required: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) of a CSV file (`file:line`) or of a Parquet file or hub dataset (`source row N`);
    the columns must include `required`."""
    if is_table(path):
        yield from _arrow_rows(path, required)
        return
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = required - set(reader.fieldnames or [])
            if missing:
                raise CrossriskError(f"{path}:1: missing column(s) {sorted(missing)}; found {reader.fieldnames}")
            for row in reader:
                yield f"{path}:{reader.line_num}", row
    except FileNotFoundError:
        raise CrossriskError(f"dataset file {path} does not exist") from None


def json_lines(path: str | Path) -> Iterator[tuple[str, Any]]:
    """(where, record) of a JSON Lines file (`file:line`; blank and `#` lines skipped), or of a
    Parquet file or hub dataset (`source row N`)."""
    if is_table(path):
        yield from _arrow_rows(path, set())
        return
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CrossriskError(f"dataset file {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise CrossriskError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            try:
                yield f"{path}:{number}", json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise CrossriskError(f"{path}:{number}: malformed JSON ({exc.msg} at column {exc.colno})") from None


def _arrow_rows(source: str | Path, required: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    table = load_table(source)
    missing = required - set(table.column_names)
    if missing:
        raise CrossriskError(f"{source}: missing column(s) {sorted(missing)}; found {table.column_names}")
    for n, row in enumerate(table):
        yield f"{source} row {n}", row


def load_table(source: str | Path) -> Any:
    """A `datasets.Dataset` for a Parquet file or a pinned hub dataset (one split), loaded without
    the library's progress bars (the suite shows its own); the caller's setting is kept."""
    try:
        import datasets
    except ImportError:
        raise CrossriskError(f"reading {source} needs the `datasets` package (pip install datasets)") from None
    shown = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        return _load_table(datasets, source)
    finally:
        if shown:
            datasets.enable_progress_bars()


def _load_table(datasets: Any, source: str | Path) -> Any:
    cache_dir = str(_datasets_cache())
    if not is_hub(source):
        path = Path(source).expanduser()
        if not path.is_file():
            raise CrossriskError(f"dataset file {path} does not exist")
        try:
            return datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=cache_dir)
        except Exception as exc:  # pyarrow's errors have no common base we could name
            raise CrossriskError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    match = _HUB.match(str(source))
    if match is None:
        raise CrossriskError(f"hub dataset {source!r} is not written hf:ORG/NAME@REVISION[:CONFIG][/SPLIT]")
    if not match["rev"]:
        raise CrossriskError(f"hub dataset {source!r} needs a pinned revision: hf:{match['repo']}@COMMIT")
    try:
        return datasets.load_dataset(
            match["repo"], match["config"], revision=match["rev"], split=match["split"] or "train", cache_dir=cache_dir
        )
    except Exception as exc:  # network, missing revision or split: one line, the library's own reason
        offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = " (HF_DATASETS_OFFLINE/HF_HUB_OFFLINE is set and it is not cached)" if offline else ""
        raise CrossriskError(f"could not load hub dataset {source}{hint}: {str(exc).splitlines()[0]}") from None


def _datasets_cache() -> Path:
    return default_cache_dir() / "datasets"
