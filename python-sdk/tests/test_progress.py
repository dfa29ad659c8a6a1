"""The progress bar draws on a terminal only, and reaches 100 %."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kif
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


def test_close_draws_the_final_state_even_when_the_last_frame_was_throttled(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress(1000, "x", enabled=True)
    bar.advance(500)  # drawn (first frame)
    bar.advance(499)  # throttled: within 0.1 s of the first frame
    bar.done += 1  # the work completes without another frame
    bar.close()
    assert capsys.readouterr().err.rstrip("\n").endswith("100.0%")


def _bundle(tmp_path: Path) -> kif.Model:
    b = kif.GraphBuilder("p")
    weights = {"kernel": np.ones((64, 64), "float32"), "bias": np.zeros(64, "float32")}
    b.output(b.add("Dense", b.input("x", "float32", (None, 64)), name="d", units=64, weights=weights))
    return b.build()


@pytest.mark.parametrize("name", ["m.kif", "m_dir"])
def test_save_bar_ends_at_100(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    kif.save(_bundle(tmp_path), tmp_path / name, progress=True)
    frames = capsys.readouterr().err.rstrip("\n").split("\r")
    assert frames[-1].endswith("100.0%"), frames[-3:]


def test_verify_bar_ends_at_100(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    per_tensor = kif.save(_bundle(tmp_path), tmp_path / "m.kif")
    whole = kif.save(_bundle(tmp_path), tmp_path / "w.kif", digests="file")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    monkeypatch.setitem(Progress.__init__.__kwdefaults__, "min_total", 0)  # draw for a small file too
    for path, label in ((per_tensor, "Verifying tensors"), (whole, "Verifying weights.safetensors")):
        capsys.readouterr()
        assert kif.validate(path).ok
        err = capsys.readouterr().err
        assert label in err
        assert err.rstrip("\n").split("\r")[-1].endswith("100.0%")
