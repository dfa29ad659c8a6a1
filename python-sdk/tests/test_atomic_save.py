"""An interrupted ``kif.save`` leaves nothing partial under the final name.

The safetensors writer is made to fail after some bytes (an exception, an OSError
and a KeyboardInterrupt); afterwards the target is absent, or still holds the
previous complete bundle, and no temporary file or directory is left beside it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.bundle import atomic, safetensors_io

FORMS = ["directory", "archive"]
FAIL_AFTER = 3000  # bytes written to a weight file before the failure


def _model(seed: int) -> kif.Model:
    rng = np.random.default_rng(seed)
    b = kif.GraphBuilder(f"model_{seed}")
    x = b.input("x", "float32", (None, 64))
    weights = {"kernel": rng.normal(size=(64, 64)).astype("float32"), "bias": np.zeros(64, "float32")}
    y = b.add("Dense", x, name="dense", units=64, weights=weights)
    b.output(y)
    return b.build()


def _target(tmp_path: Path, form: str) -> Path:
    return tmp_path / ("model.kif" if form == "archive" else "model")


class _FailingStream:
    """Passes writes through until ``limit`` bytes, writes part of the next chunk, then raises."""

    def __init__(self, stream: Any, limit: int, error: BaseException) -> None:
        self._stream, self._limit, self._error = stream, limit, error
        self._written = 0

    def write(self, data: Any) -> int:
        data = bytes(data)
        if self._written + len(data) > self._limit:
            self._stream.write(data[: self._limit - self._written])
            raise self._error
        self._written += len(data)
        return int(self._stream.write(data))


def _break_writer(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    real_write = safetensors_io.write

    def failing_write(stream: Any, tensors: Any, metadata: Any = None, progress: Callable[[int], None] | None = None, **kw: Any) -> Any:
        return real_write(_FailingStream(stream, FAIL_AFTER, error), tensors, metadata, progress, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(safetensors_io, "write", failing_write)


def _leftovers(folder: Path, keep: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p != keep)


ERRORS: dict[str, tuple[BaseException, type[BaseException]]] = {
    "exception": (RuntimeError("writer crashed"), RuntimeError),
    "oserror": (OSError(28, "No space left on device"), kif.KifError),
    "keyboard-interrupt": (KeyboardInterrupt(), KeyboardInterrupt),
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", list(ERRORS))
def test_interrupted_first_save_leaves_nothing(tmp_path: Path, form: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _target(tmp_path, form)
    error, expected = ERRORS[kind]
    _break_writer(monkeypatch, error)
    with pytest.raises(expected):
        kif.save(_model(1), target)
    assert not target.exists() and not target.is_symlink()
    assert _leftovers(tmp_path, target) == []


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", list(ERRORS))
def test_interrupted_overwrite_keeps_the_previous_bundle(tmp_path: Path, form: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _target(tmp_path, form)
    old = _model(1)
    kif.save(old, target)
    before = _snapshot(target)
    error, expected = ERRORS[kind]
    _break_writer(monkeypatch, error)
    with pytest.raises(expected):
        kif.save(_model(2), target, overwrite=True)
    monkeypatch.undo()
    assert _snapshot(target) == before
    assert kif.validate(target).ok
    loaded = kif.load(target)
    assert loaded.name == "model_1"
    np.testing.assert_array_equal(loaded.weights["dense/kernel"], old.weights["dense/kernel"])
    assert _leftovers(tmp_path, target) == []


@pytest.mark.parametrize("form", FORMS)
def test_interrupt_after_the_weights_keeps_the_previous_bundle(tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last step (model.json) fails: the finished weight files must not surface either."""
    target = _target(tmp_path, form)
    kif.save(_model(1), target)
    before = _snapshot(target)

    def interrupted(*args: Any, **kwargs: Any) -> bytes:
        raise KeyboardInterrupt

    monkeypatch.setattr("kif.bundle.writer._document", interrupted)
    with pytest.raises(KeyboardInterrupt):
        kif.save(_model(2), target, overwrite=True)
    assert _snapshot(target) == before
    assert _leftovers(tmp_path, target) == []


@pytest.mark.parametrize("exchange", [True, False])
@pytest.mark.parametrize("after", [False, True])
def test_interrupted_directory_swap_restores_the_previous_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: bool, exchange: bool
) -> None:
    """A directory is swapped in one renameat2(RENAME_EXCHANGE) where Linux offers it, else in two
    renames (old aside, new in); an interrupt in either must not lose the old bundle."""
    target = _target(tmp_path, "directory")
    kif.save(_model(1), target)
    before = _snapshot(target)
    real_rename, real_renameat2 = os.rename, atomic._renameat2

    def rename(src: Any, dst: Any) -> None:
        moving_old_aside = Path(src) == target
        if moving_old_aside and after:
            real_rename(src, dst)
        if moving_old_aside:
            raise KeyboardInterrupt
        real_rename(src, dst)

    def renameat2(src: Path, dst: Path, flags: int) -> bool:
        if flags == atomic._RENAME_EXCHANGE:
            if not exchange:
                return False
            if after:
                real_renameat2(src, dst, flags)
            raise KeyboardInterrupt
        return bool(real_renameat2(src, dst, flags))

    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(atomic, "_renameat2", renameat2)
    with pytest.raises(KeyboardInterrupt):
        kif.save(_model(2), target, overwrite=True)
    monkeypatch.undo()
    if after and exchange:
        # The exchange is one atomic step: once done, the new bundle is in place, complete.
        assert kif.load(target).name == "model_2"
    else:
        assert _snapshot(target) == before
    assert kif.validate(target).ok
    assert _leftovers(tmp_path, target) == []


def test_oserror_becomes_a_kif_error_naming_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "model.kif"
    _break_writer(monkeypatch, OSError(28, "No space left on device"))
    with pytest.raises(kif.KifError) as caught:
        kif.save(_model(1), target)
    assert caught.value.code == "write-failed"
    assert caught.value.file == str(target)
    assert "No space left on device" in str(caught.value)


@pytest.mark.parametrize("form", FORMS)
def test_successful_overwrite_replaces_and_cleans_up(tmp_path: Path, form: str) -> None:
    target = _target(tmp_path, form)
    kif.save(_model(1), target)
    kif.save(_model(2), target, overwrite=True)
    assert kif.load(target).name == "model_2"
    assert kif.validate(target).ok
    assert _leftovers(tmp_path, target) == []


@pytest.mark.parametrize("form", FORMS)
def test_overwriting_the_bundle_a_model_was_loaded_from(tmp_path: Path, form: str) -> None:
    """The loaded weights map the old files while the new ones are written over them."""
    target = _target(tmp_path, form)
    original = _model(1)
    kif.save(original, target)
    loaded = kif.load(target)
    loaded.description = "updated in place"
    kif.save(loaded, target, overwrite=True)
    again = kif.load(target)
    assert again.description == "updated in place"
    np.testing.assert_array_equal(again.weights["dense/kernel"], original.weights["dense/kernel"])
    assert kif.validate(target).ok
    assert _leftovers(tmp_path, target) == []


@pytest.mark.parametrize("form", FORMS)
def test_saved_bundle_has_ordinary_permissions(tmp_path: Path, form: str) -> None:
    """Temporary files are created private (0600/0700); the renamed result must not stay so."""
    umask = os.umask(0o022)
    try:
        target = kif.save(_model(1), _target(tmp_path, form))
    finally:
        os.umask(umask)
    if form == "archive":
        assert target.stat().st_mode & 0o777 == 0o644
    else:
        assert target.stat().st_mode & 0o777 == 0o755
        assert {p.stat().st_mode & 0o777 for p in target.iterdir()} == {0o644}


def _snapshot(target: Path) -> dict[str, bytes]:
    if target.is_dir():
        return {p.name: p.read_bytes() for p in sorted(target.iterdir())}
    return {"": target.read_bytes()}
