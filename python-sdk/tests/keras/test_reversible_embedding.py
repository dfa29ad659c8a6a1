"""Keras 3 ReversibleEmbedding in both directions (the lookup and reverse=True logits, tied or not, with and without
logit_soft_cap) converts from .keras, .h5 and json + weights and reproduces Keras 3 (torch backend)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras

import kif
from kif.errors import KifError
from kif.keras import convert

VOCAB, DIM = 11, 6


def _model(tie: bool, cap: float | None, mask_zero: bool = False, reverse_dtype: str | None = None) -> keras.Model:
    ids = keras.Input((5,), dtype="int32")
    options = {"tie_weights": tie, "logit_soft_cap": cap, "mask_zero": mask_zero, "reverse_dtype": reverse_dtype}
    emb = keras.layers.ReversibleEmbedding(VOCAB, DIM, **options)
    h = keras.layers.Dense(DIM, activation="tanh")(emb(ids))
    logits = emb(h, reverse=True)
    model = keras.Model(ids, logits)
    rng = np.random.default_rng(3)
    for layer in model.layers:
        layer.set_weights([rng.normal(0, 1.5, w.shape).astype(w.dtype) for w in layer.get_weights()])
    return model


def _save(model: keras.Model, fmt: str, tmp_path: Path) -> tuple[Path, Path | None]:
    if fmt == "json":
        (tmp_path / "model.json").write_text(model.to_json())
        model.save_weights(tmp_path / "model.weights.h5")
        return tmp_path / "model.json", tmp_path / "model.weights.h5"
    model.save(tmp_path / f"model.{fmt}")
    return tmp_path / f"model.{fmt}", None


IDS = np.random.default_rng(5).integers(0, VOCAB, (3, 5)).astype("int32")


@pytest.mark.parametrize("fmt", ["keras", "h5", "json"])
@pytest.mark.parametrize(("tie", "cap"), [(True, None), (False, None), (True, 2.0), (False, 0.5)])
def test_both_directions_reproduce_keras(tie: bool, cap: float | None, fmt: str, tmp_path: Path) -> None:
    model = _model(tie, cap)
    src, weights = _save(model, fmt, tmp_path)
    bundle = convert(src, tmp_path / "model.kif", weights=weights)
    assert kif.validate(bundle).ok
    converted = kif.load(bundle)
    types = [layer.type for layer in converted.layers]
    assert types[:3] == ["Embedding", "Dense", "Dense"]
    assert types[3:] == ([] if cap is None else ["op.constant", "op.divide", "op.tanh", "op.multiply"])
    got = next(iter(kif.run(converted, {converted.inputs[0].name: IDS}).values()))
    want = model.predict(IDS, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    if cap is not None:
        assert np.abs(got).max() <= cap, "the soft cap bounds the logits"


def test_reverse_is_x_times_embeddings_transposed(tmp_path: Path) -> None:
    """Hand-derived: the reverse logits are h @ E.T for the tied table."""
    model = _model(True, None)
    src, _ = _save(model, "keras", tmp_path)
    converted = kif.load(convert(src, tmp_path / "model.kif"))
    table = model.layers[1].get_weights()[0]
    dense_kernel, dense_bias = model.layers[2].get_weights()
    h = np.tanh(table[IDS] @ dense_kernel + dense_bias)
    got = next(iter(kif.run(converted, {converted.inputs[0].name: IDS}).values()))
    np.testing.assert_allclose(got, h @ table.T, rtol=1e-5, atol=1e-5)


def test_mask_zero_forward(tmp_path: Path) -> None:
    ids = keras.Input((5,), dtype="int32")
    emb = keras.layers.ReversibleEmbedding(VOCAB, DIM, mask_zero=True)
    out = keras.layers.LSTM(3)(emb(ids))
    model = keras.Model(ids, out)
    src, _ = _save(model, "keras", tmp_path)
    converted = kif.load(convert(src, tmp_path / "model.kif"))
    x = IDS.copy()
    x[:, 3:] = 0
    got = next(iter(kif.run(converted, {converted.inputs[0].name: x}).values()))
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_reverse_dtype_other_than_the_input_is_refused(tmp_path: Path) -> None:
    src, _ = _save(_model(True, None, reverse_dtype="float16"), "keras", tmp_path)
    with pytest.raises(KifError, match="reverse_dtype='float16'"):
        convert(src, tmp_path / "model.kif")


def test_importers_run_the_converted_soft_capped_model(tmp_path: Path) -> None:
    """The mapped graph uses only catalog layers and ops: kif.torch and ONNX Runtime reproduce Keras too."""
    import onnxruntime as ort
    import torch

    import kif.onnx
    import kif.torch

    model = _model(False, 2.0)
    src, _ = _save(model, "keras", tmp_path)
    converted = kif.load(convert(src, tmp_path / "model.kif"))
    want = model.predict(IDS, verbose=0)
    with torch.no_grad():
        got = kif.torch.load(converted)(torch.from_numpy(IDS))
    np.testing.assert_allclose(np.asarray(got[0] if isinstance(got, (list, tuple)) else got), want, rtol=1e-5, atol=1e-5)
    path = kif.onnx.export(converted, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {converted.inputs[0].name: IDS})[0], want, rtol=1e-5, atol=1e-5)
