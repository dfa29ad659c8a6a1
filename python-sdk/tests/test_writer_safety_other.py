"""The writers of single files never remove or overwrite what they did not create (issue 9, "Data loss").

``kif run --output``, ONNX export (API and ``kif convert x.kif y.onnx``, with its ``.onnx.data``),
``kif view -o`` and ``kif.keras.export``: a user's file survives byte-identical without ``--force`` /
``overwrite=True`` (exit 2, one line naming the flag); the flag replaces it; the file being read, a
folder and a link are refused even with the flag; a failure mid-write leaves the old file and no
``.kif-tmp-*`` behind.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import onnx
import pytest

import kif
from kif.cli import main
from kif.errors import KifError

RNG = np.random.default_rng(9)
USER = b"the user's own bytes\n" * 10


def _bundle(path: Path) -> Path:
    b = kif.GraphBuilder("tiny")
    x = b.input("x", "float32", (None, 3))
    kernel, bias = RNG.normal(size=(3, 100)).astype("float32"), np.zeros(100, "float32")  # over onnx's 1 KB external threshold
    b.output(b.add("Dense", x, name="dense", units=100, weights={"kernel": kernel, "bias": bias}))
    return kif.save(b.build(), path)


def _cli(*args: str | Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in args])
        except SystemExit as exc:
            status = int(exc.code or 0)
    return status, err.getvalue()


def _user_file(path: Path) -> Path:
    path.write_bytes(USER)
    return path


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".kif-"))


def _refused(status: int, err: str, flag: str | None = "--force") -> None:
    assert status == 2, err
    assert err.count("\n") == 1 and "write-refused" in err and "Traceback" not in err, err
    if flag:
        assert flag in err, err


@pytest.fixture
def work(tmp_path: Path) -> dict[str, Path]:
    bundle = _bundle(tmp_path / "m.kif")
    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=RNG.normal(size=(4, 3)).astype("float32"))
    return {"root": tmp_path, "bundle": bundle, "inputs": inputs}


# kif run --output


def test_run_keeps_an_existing_file_without_force_and_replaces_it_with(work: dict[str, Path]) -> None:
    out = _user_file(work["root"] / "out.npz")
    _refused(*_cli("run", work["bundle"], "--inputs", work["inputs"], "--output", out))
    assert out.read_bytes() == USER
    assert _cli("run", work["bundle"], "--inputs", work["inputs"], "--output", out, "--force")[0] == 0
    with np.load(out) as got:
        assert got["dense"].shape == (4, 100)
    assert _temps(work["root"]) == []


def test_run_refuses_the_inputs_a_bundle_member_and_a_link_even_with_force(tmp_path: Path, work: dict[str, Path]) -> None:
    before = work["inputs"].read_bytes()
    _refused(*_cli("run", work["bundle"], "--inputs", work["inputs"], "--output", work["inputs"], "--force"), flag=None)
    assert work["inputs"].read_bytes() == before
    folder = _bundle(tmp_path / "folder")
    member = folder / "weights.safetensors"
    weights = member.read_bytes()
    _refused(*_cli("run", folder, "--inputs", work["inputs"], "--output", member, "--force"), flag=None)
    assert member.read_bytes() == weights and kif.validate(folder).ok
    victim = _user_file(tmp_path / "victim.npz")
    (tmp_path / "link.npz").symlink_to(victim)
    _refused(*_cli("run", work["bundle"], "--inputs", work["inputs"], "--output", tmp_path / "link.npz", "--force"), flag=None)
    assert victim.read_bytes() == USER


def test_run_failure_mid_write_keeps_the_old_file(work: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    out = _user_file(work["root"] / "out.npz")

    def disk_full(stream: io.BufferedWriter, **_: object) -> None:
        stream.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    status, err = _cli("run", work["bundle"], "--inputs", work["inputs"], "--output", out, "--force")
    assert status == 2 and "write-failed" in err and "No space left" in err and err.count("\n") == 1, err
    assert out.read_bytes() == USER and _temps(work["root"]) == []


# ONNX export: the API and kif convert x.kif y.onnx


def test_convert_onnx_keeps_an_existing_file_without_force(work: dict[str, Path]) -> None:
    out = _user_file(work["root"] / "m.onnx")
    _refused(*_cli("convert", work["bundle"], out))
    assert out.read_bytes() == USER
    assert _cli("convert", work["bundle"], out, "--force")[0] == 0
    onnx.checker.check_model(str(out), full_check=True)
    assert _temps(work["root"]) == []


def test_onnx_export_keeps_an_existing_data_file_and_writes_nothing(work: dict[str, Path]) -> None:
    from kif.onnx import export

    target, data = work["root"] / "m.onnx", _user_file(work["root"] / "m.onnx.data")
    with pytest.raises(KifError) as caught:
        export(work["bundle"], target, external_data_threshold=0)
    assert caught.value.code == "write-refused" and "m.onnx.data" in str(caught.value) and "overwrite" in str(caught.value)
    assert data.read_bytes() == USER and not target.exists() and _temps(work["root"]) == []
    _user_file(target)
    export(work["bundle"], target, external_data_threshold=0, overwrite=True)  # both replaced
    assert data.read_bytes() != USER
    onnx.checker.check_model(str(target), full_check=True)
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in onnx.load(str(target), load_external_data=False).graph.initializer)


def test_onnx_export_refuses_the_source_folder_even_with_overwrite(tmp_path: Path) -> None:
    from kif.onnx import export

    folder = _bundle(tmp_path / "folder")
    with pytest.raises(KifError, match="inside the folder being read") as caught:
        export(folder, folder / "model.json", overwrite=True)
    assert caught.value.code == "write-refused" and kif.validate(folder).ok


def test_onnx_export_failure_mid_write_keeps_the_old_files(work: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from kif.onnx import export

    target = _user_file(work["root"] / "m.onnx")

    def disk_full(proto: object, path: object, **_: object) -> None:
        Path(str(path)).write_bytes(b"\x08half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx, "save_model", disk_full)
    with pytest.raises(KifError) as caught:
        export(work["bundle"], target, overwrite=True)
    assert caught.value.code == "write-failed" and target.read_bytes() == USER and _temps(work["root"]) == []


# kif view -o


def test_view_keeps_an_existing_file_without_force(work: dict[str, Path]) -> None:
    out = _user_file(work["root"] / "m.html")
    _refused(*_cli("view", work["bundle"], "-o", out))
    assert out.read_bytes() == USER
    assert _cli("view", work["bundle"], "-o", out, "--force")[0] == 0
    assert out.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    before = work["bundle"].read_bytes()
    _refused(*_cli("view", work["bundle"], "-o", work["bundle"], "--force"), flag=None)
    assert work["bundle"].read_bytes() == before and _temps(work["root"]) == []


def test_view_failure_mid_write_keeps_the_old_file(work: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    out = _user_file(work["root"] / "m.html")
    real = Path.write_text

    def disk_full(self: Path, text: str, *args: object, **kwargs: object) -> int:
        real(self, text[:10], encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    status, err = _cli("view", work["bundle"], "-o", out, "--force")
    assert status == 2 and "write-failed" in err, err
    assert out.read_bytes() == USER and _temps(work["root"]) == []


# kif.keras.export (a live model): the bundle writer's rules, and nothing deleted afterwards


def _keras_model() -> object:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def test_keras_export_never_replaces_a_user_file_or_an_unforced_bundle(work: dict[str, Path]) -> None:
    from kif.keras import export

    model = _keras_model()
    user = _user_file(work["root"] / "user.kif")
    with pytest.raises(KifError) as caught:
        export(model, user, overwrite=True)
    assert caught.value.code == "write-refused" and user.read_bytes() == USER
    before = work["bundle"].read_bytes()
    with pytest.raises(KifError, match="overwrite=True"):
        export(model, work["bundle"])
    assert work["bundle"].read_bytes() == before
    export(model, work["bundle"], overwrite=True)
    assert kif.load(work["bundle"]).layers[0].type == "Dense" and _temps(work["root"]) == []


def test_keras_export_failure_mid_write_keeps_the_old_bundle(work: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from kif.bundle import writer
    from kif.keras import export

    before = work["bundle"].read_bytes()

    def disk_full(path: Path, *_: object) -> None:
        path.write_bytes(b"PK half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_write_archive", disk_full)
    with pytest.raises(KifError) as caught:
        export(_keras_model(), work["bundle"], overwrite=True)
    assert caught.value.code == "write-failed"
    assert work["bundle"].read_bytes() == before and _temps(work["root"]) == []
