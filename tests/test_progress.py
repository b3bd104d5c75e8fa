"""Progress bars show on the terminal, even while pytest captures stderr, and stay quiet in CI."""

from __future__ import annotations

import io

import pytest

from crossrisk_bench import progress
from crossrisk_bench.progress import progress_bar, progress_enabled, progress_label


def _no_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = open

    def fake_open(path, *args, **kwargs):
        if path == "/dev/tty":
            raise OSError("no controlling terminal")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)


def test_quiet_without_a_terminal_or_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROSSRISK_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    _no_tty(monkeypatch)
    assert not progress_enabled()
    monkeypatch.setenv("CROSSRISK_PROGRESS", "1")  # forced: falls back to stderr
    assert progress_enabled()
    monkeypatch.setenv("CROSSRISK_PROGRESS", "0")
    assert not progress_enabled()
    monkeypatch.delenv("CROSSRISK_PROGRESS")
    monkeypatch.setenv("CI", "true")
    assert progress_stream_is_none()


def progress_stream_is_none() -> bool:
    return progress.progress_stream() is None


def test_bar_on_the_terminal_names_the_cell_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = io.StringIO()
    terminal.close = lambda: None  # keep it readable after the bar closes its stream
    monkeypatch.setattr(progress, "progress_stream", lambda: terminal)
    with progress_label("refusal_sft / misuse"), progress_bar(3, "generating", unit="prompt") as bar:
        bar.update(2)
        bar.refresh()  # drawn at most twice a second otherwise
    drawn = terminal.getvalue()
    assert "refusal_sft / misuse: generating" in drawn and "2/3" in drawn and "prompt/s" in drawn
    with progress_bar(3, "unlabelled") as bar:
        bar.update(1)
    assert "refusal_sft" not in terminal.getvalue().split("unlabelled")[-1]


def test_forced_bar_without_a_terminal_uses_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_tty(monkeypatch)
    monkeypatch.setenv("CROSSRISK_PROGRESS", "1")
    with progress_bar(3, "working") as bar:
        bar.update(3)
    assert "working" in capsys.readouterr().err
    monkeypatch.setenv("CROSSRISK_PROGRESS", "0")
    with progress_bar(3, "silent") as bar:
        bar.update(3)
    assert "silent" not in capsys.readouterr().err
