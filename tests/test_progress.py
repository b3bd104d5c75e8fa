"""Progress bars show on a terminal and stay quiet in logs and xdist workers."""

from __future__ import annotations

import pytest

from crossrisk_bench.progress import progress_bar, progress_enabled


def test_quiet_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROSSRISK_PROGRESS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert not progress_enabled()
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert progress_enabled()
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert not progress_enabled()
    monkeypatch.setenv("CROSSRISK_PROGRESS", "1")
    assert progress_enabled()


def test_bar_counts_when_forced(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CROSSRISK_PROGRESS", "1")
    with progress_bar(3, "working") as bar:
        bar.update(3)
    assert "working" in capsys.readouterr().err
    monkeypatch.setenv("CROSSRISK_PROGRESS", "0")
    with progress_bar(3, "silent") as bar:
        bar.update(3)
    assert "silent" not in capsys.readouterr().err
