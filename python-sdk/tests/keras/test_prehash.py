"""Digests started while a converter is still mapping the model (kif.bundle.prehash): the bundle is byte for byte
the one written without them, each tensor is hashed once, only buffers nothing can change are taken, and no
worker thread outlives the conversion, also when the save is refused. hashlib over the written bytes is the oracle.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import kif
from kif.bundle import prehash, safetensors_write
from kif.bundle.deferred import DeferredTensor
from kif.errors import KifError
from kif.keras import convert, export
from tests.keras import keras_models as km

L = keras.layers


def _model() -> keras.Model:
    inp = keras.Input((24,), name="x")
    h = L.Dense(32, activation="relu", name="a")(inp)
    model = keras.Model(inp, L.Dense(5, name="b")(h))
    return km.randomise(model, seed=3)


def _hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SHA-256 of a tensor the converter or the writer computes, by where it ran."""
    calls: list[str] = []
    ahead, writer = prehash._sha256, safetensors_write._sha256

    def early(data: memoryview) -> str:
        calls.append("ahead")
        return ahead(data)

    def late(data: memoryview) -> str:
        calls.append("writer")
        return writer(data)

    monkeypatch.setattr(prehash, "_sha256", early)
    monkeypatch.setattr(safetensors_write, "_sha256", late)
    return calls


def _no_prehash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prehash.Prehash, "submit", lambda self, tensor: None)


def _tensor_digests(bundle: Path) -> dict[str, str]:
    """Each tensor's SHA-256 recomputed from the archive's weights file (the oracle), keyed by tensor name."""
    with zipfile.ZipFile(bundle) as archive:
        data = archive.read("weights.safetensors")
    from kif.bundle import safetensors_io

    header = safetensors_io.parse_header(data, len(data), "weights.safetensors")
    return {n: hashlib.sha256(data[header.data_start + e.begin : header.data_start + e.end]).hexdigest() for n, e in header.tensors.items()}


def _recorded_digests(bundle: Path) -> dict[str, str]:
    with zipfile.ZipFile(bundle) as archive:
        tensors = json.loads(archive.read("model.json"))["weights"]["tensors"]
    return {n: t["sha256"] for n, t in tensors.items()}


def test_export_hashes_each_tensor_once_ahead_and_writes_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    calls = _hash_calls(monkeypatch)
    early = export(model, tmp_path / "early.kif")
    assert calls.count("ahead") == len(model.weights) and "writer" not in calls, calls
    with monkeypatch.context() as patch:
        _no_prehash(patch)
        late = export(model, tmp_path / "late.kif")
    assert early.read_bytes() == late.read_bytes()
    assert _recorded_digests(early) == _tensor_digests(early)
    kif.load(early).weights.verify()
    assert not [t for t in threading.enumerate() if t.name.startswith("kif-prehash")]


def test_convert_hashes_mapped_weights_ahead_and_writes_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "m.h5"
    _model().save(source)
    calls = _hash_calls(monkeypatch)
    early = convert(source, tmp_path / "early.kif", progress=False)
    assert calls and set(calls) == {"ahead"}, calls  # every weight of a Keras .h5 is contiguous: mapped and hashed ahead
    with monkeypatch.context() as patch:
        _no_prehash(patch)
        late = convert(source, tmp_path / "late.kif", progress=False)
    assert early.read_bytes() == late.read_bytes()
    assert _recorded_digests(early) == _tensor_digests(early)
    assert not [t for t in threading.enumerate() if t.name.startswith("kif-prehash")]


def test_only_buffers_that_cannot_change_are_hashed_ahead(tmp_path: Path) -> None:
    frozen = np.arange(12, dtype="<f4")
    frozen.flags.writeable = False
    writable = np.arange(12, dtype="<f4")
    strided = np.arange(24, dtype="<f4")[::2]
    strided.flags.writeable = False
    big_endian = np.arange(12, dtype=">f4")
    big_endian.flags.writeable = False
    made = DeferredTensor("<f4", (3,), lambda: np.ones(3, "<f4"))  # made in memory when written: not mapped
    with prehash.ahead() as found:
        for tensor in (frozen, writable, strided, big_endian, made):
            found.submit(tensor)
        assert found.future(frozen) is not None
        view, digest = found.future(frozen)  # type: ignore[misc]
        assert digest.result() == hashlib.sha256(frozen.tobytes()).hexdigest()
        assert bytes(view) == frozen.tobytes()
        for tensor in (writable, strided, big_endian, made):
            assert found.future(tensor) is None
        assert found.future(frozen.copy()) is None  # the very object, not an equal one
    assert prehash.current() is None


def test_a_refused_save_leaves_no_worker_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kif.keras import live

    def refuse(*args: object, **kwargs: object) -> None:
        raise kif.errors.ValidationError("refused", code="test-refused", findings=[])

    monkeypatch.setattr(kif, "save", refuse)
    with pytest.raises(KifError, match="would be invalid"):
        live.export(_model(), tmp_path / "out.kif")
    assert list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("kif-prehash")]
    assert prehash.current() is None
