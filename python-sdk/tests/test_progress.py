"""The progress bar draws on a terminal only, and reaches 100 %."""

from __future__ import annotations

import pytest

from kif.progress import Progress


def test_enabled_bar_reaches_full(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress(1000, "Writing x.kif", enabled=True)
    for _ in range(10):
        bar.advance(100)
    bar.close()
    err = capsys.readouterr().err
    assert "Writing x.kif" in err
    assert "100.0%" in err
    assert err.endswith("\n")


def test_not_a_terminal_draws_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress(1 << 30, "Verifying weights.safetensors")  # capsys replaces stderr with a non-terminal
    bar.advance(1 << 30)
    bar.close()
    assert capsys.readouterr().err == ""


def test_small_totals_draw_nothing_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    bar = Progress(1024, "tiny")
    bar.advance(1024)
    bar.close()
    assert capsys.readouterr().err == ""
