"""``kif.keras.to_keras`` on primitive ops and composites (issue #13), KERAS_BACKEND=torch.

Oracles: NumPy expressions written out here by hand from the spec pages (spec/ops/*.md, spec/composites.md), and
the suite's goldens through the conformance runner. The rebuilt models are saved as ``.keras`` and loaded in a fresh
process (kif's Keras objects registered), and what that model predicts is compared with the oracle and with the
KIF reference runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.graph import Layer, Model, TensorSpec
from kif.keras import export, to_keras

RNG = np.random.default_rng(13)
WEIGHTS = {
    "scale": np.array([0.5, -2.0, 3.0, 1.5], np.float32),
    "divisor": np.array([3, -3, 0, 2, -1], np.int32),  # a zero: NumPy's integer division by zero gives 0
    "flat_index": np.array([-1, 0, 5, -12], np.int64),
}
FEEDS = {
    "x": RNG.normal(size=(2, 3, 4)).astype(np.float32),
    "k": np.array([[7, -7, 5, 100, 120], [-8, 9, 0, -100, 127]], np.int32),
}


def _op(name: str, kind: str, inputs: list[str], output: str, weights: dict[str, str] | None = None, **attrs: Any) -> Layer:
    return Layer(name, f"op.{kind}", attrs, inputs, [output], weights or {})


def _ops_model() -> Model:
    layers = [
        _op("scale", "constant", [], "scale", {"value": "scale"}, dtype="float32"),
        _op("scaled", "multiply", ["x", "scale"], "scaled"),
        _op("sliced", "strided_slice", ["scaled"], "sliced", index=[[None, None, None], [None, None, -1], "newaxis", [3, 0, -2]]),
        _op("padded", "pad", ["x"], "padded", pads=[[0, 0], [2, 1], [1, 3]], mode="symmetric", value=0),
        _op("where_max", "argmax", ["x"], "where_max", axis=None, keepdims=True, dtype="int64"),
        _op("divisor", "constant", [], "divisor", {"value": "divisor"}, dtype="int32"),
        _op("quotient", "floor_divide", ["k", "divisor"], "quotient"),
        _op("remainder", "mod", ["k", "divisor"], "remainder"),
        _op("clipped", "clip", ["k"], "clipped", min=-2.5, max=3.7),
        _op("narrow", "cast", ["k"], "narrow", dtype="int8"),
        _op("wrapped", "sum", ["narrow"], "wrapped", axis=1, keepdims=False),
        _op("flat_index", "constant", [], "flat_index", {"value": "flat_index"}, dtype="int64"),
        _op("picked", "take", ["x", "flat_index"], "picked", axis=None),
        _op("logs", "log", ["x"], "logs"),
        _op("signs", "sign", ["logs"], "signs"),  # nan where x < 0: sign keeps it
    ]
    outputs = [
        TensorSpec("sliced", "float32", (2, 3, 1, 2)),
        TensorSpec("padded", "float32", (2, 6, 8)),
        TensorSpec("where_max", "int64", (1, 1, 1)),
        *[TensorSpec(name, "int32", (2, 5)) for name in ("quotient", "remainder", "clipped")],
        TensorSpec("wrapped", "int8", (2,)),
        TensorSpec("picked", "float32", (4,)),
        TensorSpec("signs", "float32", (2, 3, 4)),
    ]
    return Model(
        "ops",
        [TensorSpec("x", "float32", (2, 3, 4)), TensorSpec("k", "int32", (2, 5))],
        outputs,
        layers,
        dict(WEIGHTS),
    )


def _ops_oracle(x: np.ndarray, k: np.ndarray) -> list[np.ndarray]:
    """The ops graph written with NumPy directly."""
    d = WEIGHTS["divisor"]
    safe = np.where(d == 0, 1, d)
    quotient = np.where(d == 0, 0, np.floor_divide(k, safe)).astype(np.int32)
    remainder = np.where(d == 0, 0, np.mod(k, safe)).astype(np.int32)
    flat = x.reshape(-1)
    return [
        (x * WEIGHTS["scale"])[:, ::-1, None, 3:0:-2],
        np.pad(x, [(0, 0), (2, 1), (1, 3)], mode="symmetric"),
        np.array(np.argmax(x), np.int64).reshape(1, 1, 1),
        quotient,
        remainder,
        np.trunc(np.clip(k.astype(np.float64), -2.5, 3.7)).astype(np.int32),
        _int8_sum(k),
        flat[[len(flat) - 1, 0, 5, len(flat) - 12]],
        np.sign(np.log(np.where(x < 0, np.nan, x))),
    ]


def _int8_sum(k: np.ndarray) -> np.ndarray:
    """cast to int8 wraps each value (two's complement), the int8 sum wraps again."""
    wrapped = ((k.astype(np.int64) + 128) % 256) - 128
    return (((wrapped.sum(axis=1)) + 128) % 256 - 128).astype(np.int8)


def _body(name: str, kind: str, attrs: dict[str, Any], inputs: list[str], output: str, weights: dict[str, str] | None = None) -> Any:
    return {"name": name, "type": kind, "attributes": attrs, "inputs": inputs, "outputs": [output], "weights": weights or {}}


def _composite_model() -> Model:
    """Two calls of a parametrised composite with weights, one through a nested composite."""
    inner = {
        "parameters": {"units": {"type": "integer"}, "act": {"type": "string", "default": "relu"}},
        "inputs": ["x"],
        "outputs": ["y"],
        "weights": ["w", "b", "s"],
        "layers": [
            _body("dense", "Dense", {"units": {"$param": "units"}, "activation": {"$param": "act"}, "use_bias": True}, ["x"], "h",
                  {"kernel": "w", "bias": "b"}),
            _body("s", "op.constant", {"dtype": "float32"}, [], "sv", {"value": "s"}),
            _body("mul", "op.multiply", {}, ["h", "sv"], "m"),
            _body("add", "op.add", {}, ["x", "m"], "y"),
        ],
    }  # fmt: skip
    outer = {
        "inputs": ["x"],
        "outputs": ["y"],
        "weights": ["w", "b", "s"],
        "layers": [
            _body("block", "test.blocks:Residual", {"units": 4, "act": "tanh"}, ["x"], "r", {"w": "w", "b": "b", "s": "s"}),
            _body("slice", "op.strided_slice", {"index": ["...", [None, None, -1]]}, ["r"], "y"),
        ],
    }  # fmt: skip
    weights = {
        "a/w": RNG.normal(size=(4, 4)).astype(np.float32),
        "a/b": RNG.normal(size=4).astype(np.float32),
        "a/s": RNG.normal(size=4).astype(np.float32),
        "b/w": RNG.normal(size=(4, 4)).astype(np.float32),
        "b/b": RNG.normal(size=4).astype(np.float32),
        "b/s": RNG.normal(size=4).astype(np.float32),
    }
    layers = [
        Layer("a", "test.blocks:Residual", {"units": 4}, ["x"], ["a"], {"w": "a/w", "b": "a/b", "s": "a/s"}),
        Layer("b", "test.blocks:Reversed", {}, ["a"], ["b"], {"w": "b/w", "b": "b/b", "s": "b/s"}),
    ]
    model = Model(
        "composites",
        [TensorSpec("x", "float32", (None, 3, 4))],
        [TensorSpec("b", "float32", (None, 3, 4))],
        layers,
        weights,
        composites={"test.blocks:Residual": inner, "test.blocks:Reversed": outer},
    )
    return model


def _composite_oracle(model: Model, x: np.ndarray) -> list[np.ndarray]:
    w = model.weights
    a = x + np.maximum(x @ w["a/w"] + w["a/b"], 0) * w["a/s"]
    r = a + np.tanh(a @ w["b/w"] + w["b/b"]) * w["b/s"]
    return [r[..., ::-1]]


def _saved_and_reloaded(keras_model: Any, feeds: list[np.ndarray], folder: Path) -> list[np.ndarray]:
    """Save as .keras, load in a fresh process after register_keras_objects(), and predict there."""
    keras_model.save(folder / "rebuilt.keras")
    np.savez(folder / "feeds.npz", *feeds)
    script = (
        "import sys, numpy as np, keras\n"
        "from kif.keras.to_keras import register_keras_objects; register_keras_objects()\n"
        "m = keras.models.load_model('rebuilt.keras'); f = np.load('feeds.npz'); args = [f[k] for k in sorted(f.files)]\n"
        "out = m(args if len(args) > 1 else args[0]); out = out if isinstance(out, (list, tuple)) else [out]\n"
        "np.savez('out.npz', *[keras.ops.convert_to_numpy(o) for o in out])\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    subprocess.run([sys.executable, "-c", script], cwd=folder, env=env, check=True)
    out = np.load(folder / "out.npz")
    return [out[f"arr_{i}"] for i in range(len(out.files))]


def _same(got: list[np.ndarray], want: list[np.ndarray], what: str, tol: float = 1e-5) -> None:
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert (g.dtype, g.shape) == (w.dtype, w.shape), f"{what} output {i}: {g.dtype}{g.shape}, expected {w.dtype}{w.shape}"
        if w.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w, err_msg=f"{what} output {i}")
        else:
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=f"{what} output {i}")


def test_ops_graph_saved_and_reloaded_matches_numpy_and_the_runtime(tmp_path: Path) -> None:
    model = _ops_model()
    want = _ops_oracle(FEEDS["x"], FEEDS["k"])
    _same(list(kif.run(model, FEEDS).values()), want, "reference runtime")  # the oracle itself checked once
    rebuilt = to_keras(model)
    loaded = _saved_and_reloaded(rebuilt, [FEEDS["x"], FEEDS["k"]], tmp_path)
    _same(loaded, want, "saved and reloaded Keras model")
    with zipfile.ZipFile(tmp_path / "rebuilt.keras") as z:
        config = json.loads(z.read("config.json"))
    modules = {layer.get("module") for layer in config["config"]["layers"]}
    assert "keras.src.ops.numpy" in modules, "ops must be recorded as Keras op nodes"
    again = kif.load(export(rebuilt, tmp_path / "again.kif"))
    _same(list(kif.run(again, FEEDS).values()), want, "exported back to KIF")


def test_composite_graph_saved_and_reloaded_matches_numpy_and_the_runtime(tmp_path: Path) -> None:
    model = _composite_model()
    x = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    want = _composite_oracle(model, x)
    _same(list(kif.run(model, {"x": x}).values()), want, "reference runtime")
    rebuilt = to_keras(model)
    _same(_saved_and_reloaded(rebuilt, [x], tmp_path), want, "saved and reloaded Keras model")
    again = kif.load(export(rebuilt, tmp_path / "again.kif"))
    assert not again.composites and all(not layer.type.startswith("test.blocks:") for layer in again.layers)  # inlined
    _same(list(kif.run(again, {"x": x}).values()), want, "exported back to KIF")


def _one_op(kind: str, spec: TensorSpec, **attrs: Any) -> Model:
    return Model("one", [spec], [TensorSpec("y", spec.dtype, spec.shape)], [_op("the_op", kind, [spec.name], "y", **attrs)])


@pytest.mark.parametrize(
    ("kind", "spec", "attrs", "why"),
    [
        ("clip", TensorSpec("x", "uint8", (2, 3)), {"min": -9, "max": -5}, "outside the range of uint8"),
        ("strided_slice", TensorSpec("x", "float32", (None, 3)), {"index": [[1, None, -1]]}, "negative-step slice"),
        ("pad", TensorSpec("x", "float32", (None, 3)), {"pads": [[1, 0], [0, 0]], "mode": "reflect", "value": 0}, "size is unknown"),
    ],
)
def test_inexpressible_attribute_combinations_are_refused(kind: str, spec: TensorSpec, attrs: dict[str, Any], why: str) -> None:
    with pytest.raises(KifError, match=rf"'the_op' \(op\.{kind}\).*{why}") as refused:
        to_keras(_one_op(kind, spec, **attrs))
    assert refused.value.code == "layer-unsupported"


def test_invalid_op_attributes_give_one_kif_error() -> None:
    """A graph built in memory and never validated: the op's shape rule refuses it, as one kif error."""
    with pytest.raises(KifError, match=r"'the_op' \(op\.transpose\).*perm"):
        to_keras(_one_op("transpose", TensorSpec("x", "float32", (2, 3)), perm=[0, 0]))


@pytest.mark.parametrize("pattern", ["op-*", "composite-*", "int32-maxpooling1d-same", "mel-odd-fft"])
def test_keras_backend_passes_op_and_composite_cases(pattern: str) -> None:
    """to_keras as a conformance backend on every op and composite case (extended level) and the two cases Keras-torch
    could not compute; expected outputs are the suite's goldens."""
    from kif.conformance import runner, suite_dir
    from kif.keras.to_keras import KerasBackend

    conformance = runner()
    cases = [c for c in conformance.discover(suite_dir(), "extended", pattern) if c.kind == "model"]
    assert cases, f"no case matches {pattern!r}"
    failed = [f"{r.case.id}: {r.status} {r.detail}" for r in conformance.run_cases(KerasBackend(), cases) if r.status != "pass"]
    assert not failed, failed


@pytest.mark.parametrize("axis", [1, -1, -2])
def test_keras_flip_exports_as_a_reversing_slice(axis: int, tmp_path: Path) -> None:
    """``keras.ops.flip`` (which to_keras writes for ``[::-k]`` on an axis of unknown size) converts to op.strided_slice."""
    import keras

    x = keras.Input(shape=(3, 4))
    model = keras.Model(x, keras.ops.flip(x, axis=axis))
    again = kif.load(export(model, tmp_path / "flip.kif"))
    assert [layer.type for layer in again.layers] == ["op.strided_slice"]
    data = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    _same(list(kif.run(again, {again.inputs[0].name: data}).values()), [np.flip(data, axis)], "flip")
