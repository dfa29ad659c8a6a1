"""tf.keras 2 ``CuDNNLSTM`` / ``CuDNNGRU`` from old files convert to the canonical LSTM / GRU(reset_after=True).

The fixtures (tests/fixtures/cudnn, README there) were saved by tf_keras 2.21 (and one laid out as Keras 2.2.4
saved it); CuDNN layers only run on a GPU, so the oracle is cuDNN itself written out in NumPy: the layer's
``_process_batch`` flattens each gate's kernel slice into cuDNN's parameter buffer (gates reordered for GRU:
r, z, h), cuDNN reads each matrix from that buffer row-major as ``[units, in]`` and applies its equations with a
separate input and recurrent bias per gate. Nothing here uses the converter's weight rule.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import kif
from kif import catalog
from kif.keras import convert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cudnn"
COMPOUND = 10  # as in test_catalog_conversion: three chained recurrent layers


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _cudnn_buffer(kind: str, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> list[np.ndarray]:
    """tf_keras CuDNNLSTM/CuDNNGRU._process_batch: the slices it passes to canonical_to_params, in its order."""
    u = recurrent.shape[0]
    order = [0, 1, 2, 3] if kind == "lstm" else [1, 0, 2]  # CuDNNGRU hands cuDNN Keras's r, then z, then h
    n = len(order)
    weights = [kernel[:, g * u : (g + 1) * u] for g in order] + [recurrent[:, g * u : (g + 1) * u] for g in order]
    biases = [bias[g * u : (g + 1) * u] for g in order] + [bias[(n + g) * u : (n + g + 1) * u] for g in order]
    return [np.reshape(w, -1) for w in weights] + biases


def _matrices(kind: str, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> tuple[list, list, list, list]:
    """cuDNN's view of the buffer: per gate W [u, in] and R [u, u] row-major, then bW and bR."""
    u, n_in = recurrent.shape[0], kernel.shape[0]
    flat = _cudnn_buffer(kind, kernel, recurrent, bias)
    n = 4 if kind == "lstm" else 3
    w = [flat[g].reshape(u, n_in) for g in range(n)]
    r = [flat[n + g].reshape(u, u) for g in range(n)]
    return w, r, flat[2 * n : 3 * n], flat[3 * n :]


def _run(kind: str, weights: list[np.ndarray], x: np.ndarray, backwards: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
    """One CuDNN layer on [N, T, in] from zero states: the per-step outputs (in processing order) and final states."""
    w, r, bw, br = _matrices(kind, *weights)
    u = r[0].shape[0]
    n = x.shape[0]
    h, c = np.zeros((n, u)), np.zeros((n, u))
    steps = x[:, ::-1] if backwards else x
    outs = []
    for t in range(steps.shape[1]):
        xt = steps[:, t].astype(np.float64)
        pre = [xt @ w[g].T + bw[g] for g in range(len(w))]
        rec = [h @ r[g].T + br[g] for g in range(len(w))]
        if kind == "lstm":  # cuDNN LSTM: i, f, c', o
            i, f, o = _sigmoid(pre[0] + rec[0]), _sigmoid(pre[1] + rec[1]), _sigmoid(pre[3] + rec[3])
            c = f * c + i * np.tanh(pre[2] + rec[2])
            h = o * np.tanh(c)
        else:  # cuDNN GRU: r, z(u), h'; the reset gate multiplies R h + bR
            rg, z = _sigmoid(pre[0] + rec[0]), _sigmoid(pre[1] + rec[1])
            h = (1 - z) * np.tanh(pre[2] + rg * rec[2]) + z * h
        outs.append(h)
    return np.stack(outs, axis=1), ([h, c] if kind == "lstm" else [h])


def _stored(path: Path, layer: str) -> list[np.ndarray]:
    with h5py.File(path, "r") as f:
        group = f["model_weights"][layer]
        return [np.asarray(group[n]) for n in group.attrs["weight_names"]]


def _frames() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(3, 6, 3)).astype("float32")


def _stack_oracle(path: Path, x: np.ndarray) -> list[np.ndarray]:
    h1, _ = _run("lstm", _stored(path, "cu_dnnlstm_1"), x)
    h2, _ = _run("gru", _stored(path, "cu_dnngru_1"), h1, backwards=True)
    if "keras224" in path.name:
        return [h2]
    _, (h3, c3) = _run("lstm", _stored(path, "cu_dnnlstm_2"), h2)
    return [h3, h3, c3]


def _bidirectional_oracle(path: Path, x: np.ndarray) -> list[np.ndarray]:
    gru = _stored(path, "bi_gru")
    fwd, _ = _run("gru", gru[:3], x)
    bwd, _ = _run("gru", gru[3:], x, backwards=True)
    h = np.concatenate([fwd, bwd[:, ::-1]], axis=-1)  # Bidirectional re-reverses the backward sequence
    lstm = _stored(path, "bi_lstm")
    return [_run("lstm", lstm[:3], h)[1][0] + _run("lstm", lstm[3:], h, backwards=True)[1][0]]


def _check(bundle: Path, x: np.ndarray, want: list[np.ndarray]) -> kif.Model:
    model = kif.load(bundle)
    got = list(kif.run(model, {model.inputs[0].name: x}).values())
    assert len(got) == len(want)
    tol = catalog.get("LSTM").tolerance["float32"]
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == w.shape, f"output {i}: {g.shape} != {w.shape}"
        np.testing.assert_allclose(g, w, rtol=tol["rtol"] * COMPOUND, atol=tol["atol"] * COMPOUND, err_msg=f"output {i}")
    return model


# *_savedmodel: tf_keras loaded the .h5 and saved it as a SavedModel (generate_savedmodel.py): the oracle reads the .h5
@pytest.mark.parametrize("name", ["tf_stack.h5", "tf_stack.keras", "keras224_sequential.h5", "tf_stack_savedmodel"])
def test_cudnn_stack_matches_the_cudnn_equations(name: str, tmp_path: Path) -> None:
    x = _frames()
    weights = FIXTURES / name.replace(".keras", ".h5").replace("_savedmodel", ".h5")
    model = _check(convert(FIXTURES / name, tmp_path / "m.kif"), x, _stack_oracle(weights, x))
    rnns = [layer for layer in model.layers if layer.type in ("LSTM", "GRU")]
    assert [layer.type for layer in rnns][:2] == ["LSTM", "GRU"]
    assert rnns[1].attributes["reset_after"] is True
    assert all(layer.attributes["recurrent_activation"] == "sigmoid" for layer in rnns)


@pytest.mark.parametrize("name", ["tf_bidirectional.h5", "tf_bidirectional_savedmodel"])
def test_cudnn_bidirectional_matches_the_cudnn_equations(name: str, tmp_path: Path) -> None:
    x = _frames()
    path = FIXTURES / "tf_bidirectional.h5"
    model = _check(convert(FIXTURES / name, tmp_path / "m.kif"), x, _bidirectional_oracle(path, x))
    assert [layer.type for layer in model.layers if layer.type == "Bidirectional"] == ["Bidirectional", "Bidirectional"]


def test_the_oracle_is_not_the_trivial_layout() -> None:
    """The fixtures' kernels are not square per gate, so reading them as Keras LSTM kernels would differ."""
    kernel, recurrent, bias = _stored(FIXTURES / "tf_stack.h5", "cu_dnnlstm_1")
    w, r, _, _ = _matrices("lstm", kernel, recurrent, bias)
    assert kernel.shape == (3, 20) and not np.allclose(w[0].T, kernel[:, :5])
    assert np.allclose(r[0].T, recurrent[:, :5].T)


def _edited(tmp_path: Path, name: str, edit: Any) -> Path:
    target = tmp_path / name
    target.write_bytes((FIXTURES / name).read_bytes())
    with h5py.File(target, "r+") as f:
        raw = f.attrs["model_config"]
        config = json.loads(raw if isinstance(raw, str) else raw.decode())
        edit(config, f)
        f.attrs["model_config"] = json.dumps(config)
    return target


def _layer(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == name)["config"]


def _shrink_bias(config: dict[str, Any], f: Any) -> None:
    group = f["model_weights"]["cu_dnnlstm_1"]
    del group["cu_dnnlstm_1/bias:0"]
    group.create_dataset("cu_dnnlstm_1/bias:0", data=np.zeros(20, "float32"))


def _flat_kernel(config: dict[str, Any], f: Any) -> None:
    group = f["model_weights"]["cu_dnnlstm_1"]
    del group["cu_dnnlstm_1/kernel:0"]
    group.create_dataset("cu_dnnlstm_1/kernel:0", data=np.zeros(20, "float32"))


REFUSALS = {
    "stateful": (lambda c, f: _layer(c, "cu_dnngru_1").__setitem__("stateful", True), ["cu_dnngru_1", "stateful"]),
    "time_major": (lambda c, f: _layer(c, "cu_dnnlstm_1").__setitem__("time_major", True), ["cu_dnnlstm_1", "time_major"]),
    "bias of the LSTM size": (_shrink_bias, ["cu_dnnlstm_1", "bias", "[40]"]),
    "kernel of rank 1": (_flat_kernel, ["cu_dnnlstm_1", "kernel", "[in, 20]"]),
    "units a string": (lambda c, f: _layer(c, "cu_dnngru_1").__setitem__("units", "four"), ["cu_dnngru_1", "units"]),
    "units not the stored size": (lambda c, f: _layer(c, "cu_dnngru_1").__setitem__("units", 7), ["cu_dnngru_1", "kernel"]),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_cudnn_refusals_are_one_line(case: str, tmp_path: Path) -> None:
    edit, words = REFUSALS[case]
    source = _edited(tmp_path, "tf_stack.h5", edit)
    target = tmp_path / "out.kif"
    command = [sys.executable, "-m", "kif.cli", "convert", str(source), str(target)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], f"{word!r} missing from: {lines[0]}"
    assert not target.exists()
