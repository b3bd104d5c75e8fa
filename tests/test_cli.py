"""The `crossrisk` command: listings and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crossrisk_bench.cli import main


def test_models_lists_known_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m-instruct" in out and "tiny-llama" in out


def test_unknown_model_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["generate", "--model", "smolm2", "--cache", str(tmp_path), "hi"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "crossrisk: error: unknown model 'smolm2'; known models: smollm2-135m-exposed, smollm2-135m-instruct, tiny-llama "
        "(or give a local directory or a hub id org/name)"
    ]


def test_generate_with_a_local_model_and_cache(tiny_dir: Path, tmp_path: Path) -> None:
    args = [
        sys.executable,
        "-m",
        "crossrisk_bench.cli",
        "generate",
        "--model",
        str(tiny_dir),
        "--cache",
        str(tmp_path),
        "--max-new-tokens",
        "8",
        "What colour is the apple?",
    ]
    first = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("> What colour is the apple?\n")
    info = subprocess.run(
        [sys.executable, "-m", "crossrisk_bench.cli", "cache", "info", "--cache", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert info.stdout.strip().endswith(": 1 cached responses")
