"""String tensors at the graph's edges: run, save/load, kif run from .npy/.npz/.json, hostile pickles."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.builder import GraphBuilder
from kif.errors import KifError


def _echo() -> kif.Model:
    b = GraphBuilder("echo")
    x = b.input("text", "string", [None, 2])
    b.output(b.add("Identity", x, name="same"))
    return b.build()


def test_string_input_runs_saves_and_loads(tmp_path: Path) -> None:
    model = _echo()
    assert model.outputs[0].dtype == "string"
    words = [["héllo", "b"], ["", "日本"]]
    out = kif.run(model, {"text": np.array(words)})["same"]
    assert out.dtype == object and out.tolist() == words
    kif.save(model, tmp_path / "m.kif")
    again = kif.load(tmp_path / "m.kif")
    assert again.inputs[0].dtype == "string"
    assert kif.run(again, {"text": np.array(words, dtype=object)})["same"].tolist() == words
    assert kif.run(again, {"text": np.array([[b"a", "é".encode()]], dtype="S")})["same"].tolist() == [["a", "é"]]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (np.array([[1.0, 2.0]]), "expected strings"),
        (np.array([[b"\xff", b"a"]]), "not UTF-8"),
        (np.array([[1, "a"]], dtype=object), "str elements"),
    ],
)
def test_bad_string_inputs_are_one_error(value: np.ndarray, needle: str) -> None:
    with pytest.raises(KifError, match=needle) as info:
        kif.run(_echo(), {"text": value})
    assert info.value.code == "run-inputs"


def test_string_length_is_bounded() -> None:
    with kif.limits.override(max_string_bytes=4), pytest.raises(KifError, match="max_string_bytes") as info:
        kif.run(_echo(), {"text": np.array([["abcde", "a"]])})
    assert info.value.code == "limit-exceeded"


def test_numbers_are_not_strings() -> None:
    b = GraphBuilder("num")
    b.output(b.add("Identity", b.input("x", "float32", [None])))
    with pytest.raises(KifError, match="Received: strings"):
        kif.run(b.build(), {"x": np.array(["1"])})


def test_bundle_with_strings_validates_and_weights_cannot_be_strings(tmp_path: Path) -> None:
    import zipfile

    from kif.schemas import graph_validator

    kif.save(_echo(), tmp_path / "m.kif")
    assert kif.validate(tmp_path / "m.kif").ok
    with zipfile.ZipFile(tmp_path / "m.kif") as archive:
        doc = json.loads(archive.read("model.json"))
    assert not list(graph_validator().iter_errors(doc))
    doc["weights"]["tensors"] = {"w": {"file": "weights.safetensors", "dtype": "string", "shape": [1]}}
    assert any("'string' is not one of" in e.message for e in graph_validator().iter_errors(doc))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kif", *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("kind", ["npy_U", "npz_U", "npz_O", "json"])
def test_kif_run_reads_strings(tmp_path: Path, kind: str) -> None:
    kif.save(_echo(), tmp_path / "m.kif")
    words = [["a", "é"], ["xyz", ""]]
    if kind == "npy_U":
        path = tmp_path / "in.npy"
        np.save(path, np.array(words))
    elif kind == "json":
        path = tmp_path / "in.json"
        path.write_text(json.dumps({"text": words}), encoding="utf-8")
    else:
        path = tmp_path / "in.npz"
        np.savez(path, text=np.array(words, dtype=object if kind == "npz_O" else str))
    done = _cli("run", str(tmp_path / "m.kif"), "--inputs", str(path), "--output", str(tmp_path / "out.npz"))
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "out.npz", allow_pickle=False) as got:
        assert got["same"].tolist() == words
    refused = _cli("run", str(tmp_path / "m.kif"), "--inputs", str(path), "--output", str(tmp_path / "out.safetensors"))
    assert refused.returncode != 0 and "safetensors cannot hold" in refused.stderr and "Traceback" not in refused.stderr


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_hostile_object_npz_is_refused(tmp_path: Path) -> None:
    kif.save(_echo(), tmp_path / "m.kif")
    path = tmp_path / "evil.npz"
    np.savez(path, text=np.array([[_Evil(), "a"]], dtype=object))
    done = _cli("run", str(tmp_path / "m.kif"), "--inputs", str(path), "--output", str(tmp_path / "out.npz"))
    assert done.returncode != 0 and "refused global" in done.stderr and "pwned" not in done.stdout
    assert "Traceback" not in done.stderr
    assert pickle.dumps(0)  # the loader, not pickle, is what refuses
