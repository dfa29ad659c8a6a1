"""The per-call path of kif.run and the engines (kif.runtime.Binder, kif/engines/_guard.py, the plan's Dense step):
checks cached per input signature must stay checks. Outputs are compared with NumPy written here by hand."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import kif
from kif import engines, limits
from kif.errors import KifError

RNG = np.random.default_rng(11)
K1, B1 = RNG.normal(size=(4, 6)).astype("float32"), RNG.normal(size=6).astype("float32")
K2, B2 = RNG.normal(size=(6, 3)).astype("float32"), RNG.normal(size=3).astype("float32")
ENGINES = ["reference", "onnxruntime", "torch"]


def _model(inputs: int = 1) -> kif.Model:
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 4))
    if inputs == 2:
        x = b.add("Add", [x, b.input("y", "float32", (None, 4))], name="sum")
    h = b.add("Dense", x, name="hidden", units=6, activation="relu", weights={"kernel": K1, "bias": B1})
    b.output(b.add("Dense", h, name="head", units=3, weights={"kernel": K2, "bias": B2}))
    return b.build()


def _hand(x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ K1 + B1, 0) @ K2 + B2


def _code_and_pointer(model: kif.Model, inputs: object, engine: str) -> tuple[str, str | None]:
    with pytest.raises(KifError) as info:
        kif.run(model, inputs, engine=engine)  # type: ignore[arg-type]
    return info.value.code, info.value.pointer


@pytest.mark.parametrize("engine", ENGINES)
def test_a_signature_that_passed_does_not_let_a_wrong_input_through(engine: str) -> None:
    model = _model()
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
    for _ in range(2):  # the second call takes the cached check
        np.testing.assert_allclose(kif.run(model, x, engine=engine)["head"], _hand(x), rtol=1e-5, atol=1e-5)
    assert _code_and_pointer(model, x.reshape(2, 2, 2), engine) == ("run-inputs", "x")  # rank
    assert _code_and_pointer(model, np.zeros((2, 5), "float32"), engine) == ("run-inputs", "x")  # extent
    assert _code_and_pointer(model, x.astype("complex64"), engine) == ("run-inputs", "x")  # dtype
    assert _code_and_pointer(model, np.array([["a"] * 4]), engine) == ("run-inputs", "x")  # strings
    assert _code_and_pointer(model, {"x": x, "extra": x}, engine)[0] == "run-inputs"  # an unknown name
    assert _code_and_pointer(model, {"y": x}, engine)[0] == "run-inputs"  # the right count, a wrong name
    np.testing.assert_allclose(kif.run(model, {"x": x}, engine=engine)["head"], _hand(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_cast_input_is_cast_on_every_call(engine: str) -> None:
    model = _model()
    x = np.arange(8, dtype="int32").reshape(2, 4)  # int32 -> float32 is a same-kind cast: allowed, never cached as is
    for _ in range(3):
        out = kif.run(model, x, engine=engine)["head"]
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, _hand(x.astype("float32")), rtol=1e-5, atol=1e-5)
    view = np.asarray(x, dtype="float32").view(np.recarray)  # an ndarray subclass: checked by the full path
    np.testing.assert_allclose(kif.run(model, view, engine=engine)["head"], _hand(np.asarray(view)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("engine", ENGINES)
def test_two_inputs_in_any_order_and_a_missing_one(engine: str) -> None:
    model = _model(inputs=2)
    x, y = np.ones((3, 4), "float32"), np.linspace(0, 1, 12, dtype="float32").reshape(3, 4)
    for inputs in ({"x": x, "y": y}, {"y": y, "x": x}, {"x": x, "y": y}):
        np.testing.assert_allclose(kif.run(model, inputs, engine=engine)["head"], _hand(x + y), rtol=1e-5, atol=1e-5)
    assert _code_and_pointer(model, {"x": x}, engine)[0] == "run-inputs"
    assert _code_and_pointer(model, {"x": x, "y": y[:, :3]}, engine) == ("run-inputs", "y")
    assert _code_and_pointer(model, x, engine)[0] == "run-inputs"  # a bare array for a two-input model


@pytest.mark.parametrize("engine", ["onnxruntime", "torch"])
def test_an_engine_applies_the_limits_in_force_on_every_call(engine: str) -> None:
    model = _model()
    x = np.ones((4, 4), "float32")
    kif.run(model, x, engine=engine)
    with limits.override(max_tensor_elements=8), pytest.raises(KifError) as info:
        kif.run(model, x, engine=engine)  # the signature was checked before, under other limits
    assert info.value.code == "limit-exceeded" and info.value.pointer == "hidden"
    kif.run(model, x, engine=engine)  # the old limits again


def test_an_engine_session_goes_with_its_model() -> None:
    model = _model()
    kif.run(model, np.ones((1, 4), "float32"), engine="onnxruntime")
    key, ref = id(model), weakref.ref(model)
    assert key in engines._SESSIONS
    del model
    gc.collect()
    assert ref() is None and key not in engines._SESSIONS, "the session cache kept the model alive"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["linear", "relu", "softmax", "tanh"])
def test_the_planned_dense_step_is_the_hand_written_dense(dtype: str, activation: str) -> None:
    kernel = RNG.normal(size=(5, 4)).astype("float16")  # another dtype than the input's: cast once by the plan
    bias = RNG.normal(size=4).astype(dtype)
    b = kif.GraphBuilder("m")
    x = b.input("x", dtype, (None, 5))
    b.output(b.add("Dense", x, name="d", units=4, activation=activation, weights={"kernel": kernel, "bias": bias}))
    model = b.build()
    x = RNG.normal(size=(3, 5)).astype(dtype)
    y = x @ kernel.astype(dtype) + bias
    hand = {
        "linear": y,
        "relu": np.maximum(y, 0),
        "softmax": np.exp(y - y.max(-1, keepdims=True)) / np.exp(y - y.max(-1, keepdims=True)).sum(-1, keepdims=True),
        "tanh": np.tanh(y),
    }[activation]
    for _ in range(2):
        out = kif.run(model, x)["d"]
        assert out.dtype == np.dtype(dtype)
        if activation in ("linear", "relu"):
            np.testing.assert_array_equal(out, hand)  # the same operations on the same values
        else:
            np.testing.assert_allclose(out, hand, rtol=1e-6 if dtype == "float32" else 1e-13, atol=1e-7)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_full_check_runs_once_per_signature(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from kif import runtime

    calls: list[int] = []
    real = runtime._bind
    monkeypatch.setattr(runtime, "_bind", lambda specs, inputs: calls.append(1) or real(specs, inputs))
    model = _model()
    x, wide = np.ones((2, 4), "float32"), np.ones((2, 4), "int32")
    for _ in range(3):
        kif.run(model, x, engine=engine)
        kif.run(model, {"x": x}, engine=engine)
    assert len(calls) == 1, "a signature that passed unchanged is looked up, not checked again"
    for _ in range(2):
        kif.run(model, wide, engine=engine)
    assert len(calls) == 3, "an input that needs a cast takes the full check (and its cast) every time"
