"""Whole models: Keras 3 models (tests/keras/keras_models.py) converted to KIF, run by kif.torch, compared with Keras.

Also: the module works eagerly, under torch.no_grad, torch.jit.trace and torch.export (CNN and
LSTM models), fails at load time on an unsupported type, and rejects out-of-range token ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import kif
import kif.torch
from kif.errors import UnsupportedLayerError
from kif.graph import Layer
from kif.keras import convert
from kif.torch.module import as_tensor
from tests.keras import keras_models
from tests.torch.harness import build_layer

# MLP, CNN, LSTM text model with masking, transformer block, and the rest of the shared model zoo.
MODELS = sorted(keras_models.MODELS)
RTOL, ATOL = 1e-4, 1e-4  # the loosest float32 tolerance class of the layers involved (RNNs, attention, normalisation)


def _bundle(name: str, tmp_path: Path) -> tuple[Any, dict[str, np.ndarray], Path]:
    model, feeds = keras_models.build(name)
    source = tmp_path / f"{name}.keras"
    model.save(source)
    return model, feeds, convert(source, tmp_path / f"{name}.kif")


def _run(module: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    out = module(*[as_tensor(a) for a in feeds.values()])
    return [o.detach().numpy() for o in (out if isinstance(out, tuple) else (out,))]


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_keras(name: str, tmp_path: Path) -> None:
    model, feeds, path = _bundle(name, tmp_path)
    expected = keras_models.predict(model, feeds)
    module = kif.torch.load(path)
    assert isinstance(module, torch.nn.Module) and not module.training
    with torch.no_grad():
        got = _run(module, feeds)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


# Tracing and export specialise the graph to the example's shapes (the converters read sizes as Python ints): expected.
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
@pytest.mark.filterwarnings("ignore:The tensor attributes .*_flat_weights:UserWarning")
@pytest.mark.parametrize("name", ["cnn", "lstm_masked_text", "rnn_states", "attention_block"])
def test_no_grad_jit_trace_and_export_agree_with_keras(name: str, tmp_path: Path) -> None:
    model, feeds, path = _bundle(name, tmp_path)
    expected = keras_models.predict(model, feeds)
    module = kif.torch.load(path)
    args = tuple(as_tensor(a) for a in feeds.values())
    with torch.no_grad():
        traced = torch.jit.trace(module, args, check_trace=False)
        results = {"no_grad": _run(module, feeds), "jit.trace": _run(traced, feeds)}
    exported = torch.export.export(module, args)
    results["export"] = _run(exported.module(), feeds)
    for how, got in results.items():
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL, err_msg=how)


@pytest.mark.parametrize(("layer_type", "extra"), [("Dense", {}), ("LSTM", {}), ("GRU", {"reset_after": True}), ("Conv1D", {})])
def test_float64_input_with_float32_weights_keeps_float64(layer_type: str, extra: dict[str, Any]) -> None:
    """Hand-derived: all-ones weights and inputs. Dense/Conv1D: sum of 3 ones + bias 1 = 4; RNNs: finite, float64 out."""
    x = np.ones((2, 3, 3), "float64")
    units = 2
    if layer_type in ("Dense", "Conv1D"):
        kernel = np.ones((3, units) if layer_type == "Dense" else (1, 3, units), "float32")
        attrs = {"units": units} if layer_type == "Dense" else {"filters": units, "kernel_size": [1]}
        model = build_layer(layer_type, x, {"kernel": kernel, "bias": np.ones(units, "float32")}, **attrs)
        got = kif.torch.load(model)(torch.from_numpy(x))
        assert got.dtype == torch.float64
        np.testing.assert_array_equal(got.detach().numpy(), np.full((2, 3, units), 4.0))
        return
    k = 4 if layer_type == "LSTM" else 3
    w = {"kernel": np.zeros((3, k * units), "float32"), "recurrent_kernel": np.zeros((units, k * units), "float32")}
    w["bias"] = np.zeros(k * units, "float32")
    if layer_type == "GRU":
        w["recurrent_bias"] = np.zeros(k * units, "float32")
    got = kif.torch.load(build_layer(layer_type, x, w, units=units, **extra))(torch.from_numpy(x))
    assert got.dtype == torch.float64
    # zero weights: LSTM c = 0.5 * c_prev + 0.5 * tanh(0) = 0, h = 0; GRU h = 0.5 * h_prev + 0.5 * tanh(0) = 0
    np.testing.assert_array_equal(got.detach().numpy(), np.zeros((2, units)))


def test_eager_forward_has_gradients(tmp_path: Path) -> None:
    _, feeds, path = _bundle("mlp", tmp_path)
    module = kif.torch.load(path)
    x = as_tensor(feeds["features"]).requires_grad_(True)
    module(x).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_unsupported_type_fails_at_load_naming_layer_and_type() -> None:
    x = np.zeros((2, 3), "float32")
    model = build_layer("Dense", x, {"kernel": np.zeros((3, 2), "float32"), "bias": np.zeros(2, "float32")}, units=2)
    model.layers.append(Layer("mystery", "acme.tools:Warp", {}, [model.outputs[0].name], ["warped"]))
    with pytest.raises(UnsupportedLayerError, match=r"'mystery' \(acme.tools:Warp\)") as info:
        kif.torch.load(model)
    assert info.value.code == "layer-unsupported" and info.value.pointer == "mystery"


def test_every_catalog_type_has_a_converter() -> None:
    from kif import catalog

    assert set(kif.torch.supported_types()) == set(catalog.catalog())


@pytest.mark.parametrize("bad", [9, -1])
def test_embedding_rejects_out_of_range_ids(bad: int) -> None:
    table = np.arange(36, dtype="float32").reshape(9, 4)
    module = kif.torch.load(build_layer("Embedding", np.zeros((1, 3), "int32"), {"embeddings": table}, input_dim=9, output_dim=4))
    np.testing.assert_array_equal(module(torch.tensor([[1, 8]])).numpy(), table[[[1, 8]]])  # hand-derived: rows of the table
    with pytest.raises(IndexError):
        module(torch.tensor([[1, bad]]))
