"""Keras's generic ``RNN`` wrapper over the built-in cells, converted from real Keras 3 files (torch backend).

Each model wraps ``SimpleRNNCell`` / ``LSTMCell`` / ``GRUCell`` or ``StackedRNNCells`` of mixed cells in
``keras.layers.RNN``, gets random weights, is saved as ``.keras`` and as legacy ``.h5``, converted with
``kif convert`` semantics (``kif.keras.convert``; one case through the CLI) and run with the reference runtime;
``model.predict`` is the oracle. Options KIF cannot express are refused with one error naming layer and option.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras

import kif
from kif import catalog
from kif.errors import KifError
from kif.keras import convert, export
from tests.keras import keras_models as km

L = keras.layers
COMPOUND = 10  # as in test_catalog_conversion: a few chained recurrent layers widen one layer's class
FORMATS = ("keras", "h5")
Builder = Callable[[], tuple[Any, np.ndarray]]
BUILDERS: dict[str, Builder] = {}


def builder(fn: Builder) -> Builder:
    BUILDERS[fn.__name__] = fn
    return fn


def _seq(seed: int, shape: tuple[int, ...] = (3, 7, 4), masked: bool = False) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=shape).astype("float32")
    if masked:  # padding at the end of one sequence, a hole in the middle of another, one full row
        x[0, -3:] = 0.0
        x[1, 2] = 0.0
    return x


def _model(inp: Any, out: Any, name: str) -> Any:
    return keras.Model(inp, out, name=name)


@builder
def simple_cell_sequences() -> tuple[Any, np.ndarray]:
    inp = keras.Input((7, 4), name="x")
    out = L.RNN(L.SimpleRNNCell(5, activation="relu"), return_sequences=True)(inp)
    return _model(inp, out, "simple_cell"), _seq(1)


@builder
def lstm_cell_last_with_state() -> tuple[Any, np.ndarray]:
    inp = keras.Input((7, 4), name="x")
    out, h, c = L.RNN(L.LSTMCell(3, recurrent_activation="hard_sigmoid"), return_state=True)(inp)
    return _model(inp, [out, h, c], "lstm_cell"), _seq(2)


@builder
def gru_cell_backwards_v1() -> tuple[Any, np.ndarray]:
    inp = keras.Input((7, 4), name="x")
    out = L.RNN(L.GRUCell(4, reset_after=False), go_backwards=True, return_sequences=True)(inp)
    return _model(inp, out, "gru_cell_v1"), _seq(3)


@builder
def gru_cell_dropout_unroll() -> tuple[Any, np.ndarray]:
    """Dropout and recurrent dropout are training-only; unroll only changes how Keras loops."""
    inp = keras.Input((7, 4), name="x")
    cell = L.GRUCell(4, dropout=0.3, recurrent_dropout=0.2, use_bias=False)
    out = L.RNN(cell, unroll=True, return_state=True)(inp)
    return _model(inp, out, "gru_cell_dropout"), _seq(4)


@builder
def stacked_two_sequences() -> tuple[Any, np.ndarray]:
    inp = keras.Input((7, 4), name="x")
    cells = L.StackedRNNCells([L.LSTMCell(5), L.GRUCell(3)])
    out = L.RNN(cells, return_sequences=True)(inp)
    return _model(inp, out, "stacked2"), _seq(5)


@builder
def stacked_same_class_cells() -> tuple[Any, np.ndarray]:
    """A .keras file numbers same-class cells lstm_cell, lstm_cell_1, …: each cell must get its own weights."""
    inp = keras.Input((7, 4), name="x")
    cells = L.StackedRNNCells([L.LSTMCell(4), L.LSTMCell(4), L.GRUCell(4), L.LSTMCell(4)])
    out = L.RNN(cells, return_sequences=True)(inp)
    return _model(inp, out, "stacked_same"), _seq(13)


@builder
def stacked_three_state_backwards() -> tuple[Any, np.ndarray]:
    inp = keras.Input((7, 4), name="x")
    cells = L.StackedRNNCells([L.GRUCell(3), L.SimpleRNNCell(4, use_bias=False), L.LSTMCell(2, dropout=0.5)])
    outs = L.RNN(cells, return_state=True, go_backwards=True)(inp)
    return _model(inp, outs, "stacked3"), _seq(6)


@builder
def stacked_three_masking_backwards() -> tuple[Any, np.ndarray]:
    inp = keras.Input((7, 4), name="x")
    h = L.Masking(0.0)(inp)
    cells = L.StackedRNNCells([L.SimpleRNNCell(3), L.LSTMCell(4), L.GRUCell(2, reset_after=False)])
    h = L.RNN(cells, return_sequences=True, go_backwards=True)(h)
    out = L.GlobalAveragePooling1D()(h)  # reads the mask the RNN passes on
    return _model(inp, [out, h], "stacked3_mask"), _seq(7, masked=True)


@builder
def masking_lstm_cell_zero_output() -> tuple[Any, np.ndarray]:
    inp = keras.Input((7, 4), name="x")
    h = L.Masking(0.0)(inp)
    out = L.RNN(L.LSTMCell(3), return_sequences=True, zero_output_for_mask=True)(h)
    return _model(inp, out, "mask_lstm_cell"), _seq(8, masked=True)


@builder
def embedding_mask_stacked_two() -> tuple[Any, np.ndarray]:
    inp = keras.Input((9,), dtype="int32", name="tokens")
    h = L.Embedding(20, 6, mask_zero=True)(inp)
    cells = L.StackedRNNCells([L.GRUCell(4), L.LSTMCell(3)])
    out, *states = L.RNN(cells, return_state=True)(h)
    ids = np.random.default_rng(9).integers(1, 20, size=(3, 9)).astype("int32")
    ids[0, -3:] = 0
    ids[1, 2] = 0
    return _model(inp, [out, *states], "embed_stacked"), ids


@builder
def stacked_nested() -> tuple[Any, np.ndarray]:
    """StackedRNNCells inside StackedRNNCells steps through the inner cells in order: one flat chain."""
    inp = keras.Input((7, 4), name="x")
    inner = L.StackedRNNCells([L.SimpleRNNCell(3), L.GRUCell(3)])
    cells = L.StackedRNNCells([inner, L.LSTMCell(2)])
    out = L.RNN(cells, return_sequences=True)(inp)
    return _model(inp, out, "stacked_nested"), _seq(10)


@builder
def stacked_initial_state() -> tuple[Any, np.ndarray]:
    """Initial states of a stack: every cell's states, in cell order."""
    inp = keras.Input((7, 4), name="x")
    _, h0, c0 = L.LSTM(3, return_state=True)(inp)
    cells = L.StackedRNNCells([L.LSTMCell(3), L.GRUCell(3)])
    out = L.RNN(cells)(inp, initial_state=[[h0, c0], [h0]])
    return _model(inp, out, "stacked_init"), _seq(11)


@builder
def sequential_rnn_cell() -> tuple[Any, np.ndarray]:
    model = keras.Sequential(
        [keras.Input((7, 4), name="x"), L.Masking(0.0), L.RNN(L.StackedRNNCells([L.LSTMCell(4), L.SimpleRNNCell(2)])), L.Dense(2)],
        name="seq_rnn",
    )
    return model, _seq(12, masked=True)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[dict[str, Path], np.ndarray, list[np.ndarray]]]:
    cache: dict[str, tuple[dict[str, Path], np.ndarray, list[np.ndarray]]] = {}

    def get(name: str) -> tuple[dict[str, Path], np.ndarray, list[np.ndarray]]:
        if name not in cache:
            model, x = BUILDERS[name]()
            km.randomise(model, seed=len(cache) + 1)
            folder = tmp_path_factory.mktemp(name)
            files = {fmt: folder / f"model.{fmt}" for fmt in FORMATS}
            for path in files.values():
                model.save(path)
            want = model.predict(x, verbose=0)
            # Keras nests a stack's states per cell ([out, [h1], [h2, c2]]); KIF outputs are flat, in that order
            cache[name] = (files, x, [np.asarray(w) for w in keras.tree.flatten(want)])
        return cache[name]

    return get


def _tolerance(model: kif.Model) -> tuple[float, float]:
    classes = [catalog.get(layer.type).tolerance["float32"] for layer in model.layers]
    return max(c["rtol"] for c in classes) * COMPOUND, max(c["atol"] for c in classes) * COMPOUND


def _compare(bundle: Path, x: np.ndarray, want: list[np.ndarray], label: str) -> kif.Model:
    model = kif.load(bundle)
    got = list(kif.run(model, {model.inputs[0].name: x}).values())
    assert len(got) == len(want), f"{label}: graph outputs keep the model's outputs"
    rtol, atol = _tolerance(model)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == w.shape, f"{label} output {i}: {g.shape} != Keras {w.shape}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{label} output {i}")
    return model


def _cli(source: Path, target: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kif.cli", "convert", str(source), str(target)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(BUILDERS))
def test_rnn_wrapper_matches_keras(name: str, fmt: str, saved: Any, tmp_path: Path) -> None:
    files, x, want = saved(name)
    model = _compare(convert(files[fmt], tmp_path / "model.kif"), x, want, f"{name}/{fmt}")
    types = {layer.type for layer in model.layers}
    assert types & {"SimpleRNN", "LSTM", "GRU"}, "the wrapper becomes the canonical recurrent types"
    assert "RNN" not in types and not any("Cell" in t for t in types)


@pytest.mark.parametrize("name", ["stacked_same_class_cells", "stacked_three_masking_backwards", "embedding_mask_stacked_two"])
def test_live_export_matches_keras(name: str, tmp_path: Path) -> None:
    """kif.keras.export of the in-memory model (no file) reads the same cells."""
    model, x = BUILDERS[name]()
    km.randomise(model, seed=21)
    want = [np.asarray(w) for w in keras.tree.flatten(model.predict(x, verbose=0))]
    _compare(export(model, tmp_path / "live.kif"), x, want, f"{name}/live")


def test_stack_becomes_a_chain_of_canonical_layers(saved: Any, tmp_path: Path) -> None:
    files, _, _ = saved("stacked_three_state_backwards")
    model = kif.load(convert(files["keras"], tmp_path / "model.kif"))
    chain = [layer for layer in model.layers if layer.type in ("SimpleRNN", "LSTM", "GRU")]
    assert [layer.type for layer in chain] == ["GRU", "SimpleRNN", "LSTM"]
    assert [layer.attributes["go_backwards"] for layer in chain] == [True, False, False]
    assert [layer.attributes["return_sequences"] for layer in chain] == [True, True, False]


def test_cli_convert_and_run(saved: Any, tmp_path: Path) -> None:
    files, x, want = saved("stacked_three_masking_backwards")
    target = tmp_path / "cli.kif"
    result = _cli(files["h5"], target)
    assert result.returncode == 0, result.stderr
    _compare(target, x, want, "cli")


TF_KERAS = Path(__file__).resolve().parents[1] / "fixtures" / "rnn_cells"


@pytest.mark.parametrize("fmt", FORMATS)
def test_tf_keras_rnn_cells_match_tensorflow(fmt: str, tmp_path: Path) -> None:
    """tf.keras 2 files (legacy .h5 and .keras) of stacked cells, a list of cells, go_backwards and a mask;
    TensorFlow's outputs are the oracle (fixtures/rnn_cells/README.md)."""
    io = np.load(TF_KERAS / "io.npz")
    want = [io[f"y{i}"] for i in range(3)]
    _compare(convert(TF_KERAS / f"model.{fmt}", tmp_path / "model.kif"), io["x"], want, f"tf_keras/{fmt}")


# ---------------------------------------------------------------- refusals


@keras.saving.register_keras_serializable(package="kif_test")
class MinimalCell(L.Layer):
    """A user cell: Python code, which KIF never stores or runs."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")

    def call(self, inputs: Any, states: Any) -> Any:
        out = keras.ops.tanh(keras.ops.matmul(inputs, self.kernel) + states[0])
        return out, [out]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


def _refused(path: Path, tmp_path: Path, *words: str) -> None:
    target = tmp_path / "out.kif"
    result = _cli(path, target)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], f"{word!r} missing from: {lines[0]}"
    assert not target.exists()


def test_stateful_is_refused(tmp_path: Path) -> None:
    inp = keras.Input(batch_shape=(2, 7, 4), name="x")
    out = L.RNN(L.LSTMCell(3), stateful=True, name="carry")(inp)
    path = tmp_path / "stateful.keras"
    keras.Model(inp, out).save(path)
    _refused(path, tmp_path, "carry", "stateful")


def test_custom_cell_is_refused(tmp_path: Path) -> None:
    inp = keras.Input((7, 4), name="x")
    out = L.RNN(MinimalCell(3), name="mine")(inp)
    path = tmp_path / "custom.keras"
    keras.Model(inp, out).save(path)
    _refused(path, tmp_path, "mine", "MinimalCell", "cell")


def test_custom_cell_inside_a_stack_is_refused(tmp_path: Path) -> None:
    inp = keras.Input((7, 4), name="x")
    out = L.RNN(L.StackedRNNCells([L.GRUCell(3), MinimalCell(3)]), name="mixed")(inp)
    path = tmp_path / "custom.h5"
    keras.Model(inp, out).save(path)
    _refused(path, tmp_path, "mixed", "MinimalCell")


def _hostile_h5(saved: Any, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    files, _, _ = saved("stacked_two_sequences")
    source = tmp_path / "hostile.h5"
    source.write_bytes(files["h5"].read_bytes())
    with h5py.File(source, "r+") as f:
        raw = f.attrs["model_config"]
        config = json.loads(raw if isinstance(raw, str) else raw.decode())
        (layer,) = [layer for layer in config["config"]["layers"] if layer["class_name"] == "RNN"]
        edit(layer["config"])
        f.attrs["model_config"] = json.dumps(config)
    return source


def _nest(depth: int) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        cell = config["cell"]
        for _ in range(depth):
            cell = {"class_name": "StackedRNNCells", "config": {"name": "s", "cells": [cell]}}
        config["cell"] = cell

    return edit


HOSTILE: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "cells a string": (lambda c: c["cell"]["config"].__setitem__("cells", "lstm"), "cells"),
    "cells empty": (lambda c: c["cell"]["config"].__setitem__("cells", []), "cells"),
    "cell a number": (lambda c: c.__setitem__("cell", 7), "cell"),
    "cell config a list": (lambda c: c["cell"]["config"]["cells"][0].__setitem__("config", []), "cell"),
    "cell class unknown": (lambda c: c["cell"]["config"]["cells"][1].__setitem__("class_name", "NoSuchCell"), "NoSuchCell"),
    "nesting too deep": (_nest(10), "nested at most 8"),
    "units a string": (lambda c: c["cell"]["config"]["cells"][0]["config"].__setitem__("units", "many"), "units"),
    "stateful": (lambda c: c.__setitem__("stateful", True), "stateful"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_cell_config_is_one_kif_error(case: str, saved: Any, tmp_path: Path) -> None:
    edit, word = HOSTILE[case]
    _refused(_hostile_h5(saved, tmp_path, edit), tmp_path, "'rnn", word)


def test_absurd_nesting_is_a_kif_error(saved: Any, tmp_path: Path) -> None:
    """Nesting past the JSON depth limit stops at the config reader, before any mapping."""
    source = _hostile_h5(saved, tmp_path, _nest(40))
    _refused(source, tmp_path, "nested at most")
    with pytest.raises(KifError, match="nested at most"):
        convert(source, tmp_path / "api.kif")
