"""The straight-line path of the run plan (kif/plan.py ``_chain``, ``Plan.__call__``) and the Dense steps whose output
type the plan fixes (kif/plan_fuse.py ``_dense``): outputs against NumPy written here, bit for bit where the operations
are the same; the checks the short path skips must still be done by the path it stands for."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import kif
from kif import limits, plan
from kif.errors import KifError

RNG = np.random.default_rng(23)
DIMS = ((6, 5, "relu"), (5, 4, "relu"), (4, 3, "softmax"))
WEIGHTS = [(RNG.normal(size=(i, u)).astype("float32"), RNG.normal(size=u).astype("float32")) for i, u, _ in DIMS]


def _mlp(scale: float = 1.0) -> kif.Model:
    b = kif.GraphBuilder("mlp")
    t = b.input("x", "float32", (None, 6))
    for n, ((_, units, activation), (kernel, bias)) in enumerate(zip(DIMS, WEIGHTS, strict=True)):
        t = b.add("Dense", t, name=f"d{n}", units=units, activation=activation, weights={"kernel": kernel * scale, "bias": bias})
    b.output(t)
    return b.build()


def _hand(x: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The same operations as the hand-written mlp of benchmarks/numpy_floor.py."""
    y = x
    for n, (kernel, bias) in enumerate(WEIGHTS):
        y = y @ (kernel * scale)
        y += bias
        if n < 2:
            np.maximum(y, 0, out=y)
    y -= y.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore"):
        np.exp(y, out=y)
    y /= y.sum(axis=-1, keepdims=True)
    return y


def test_the_mlp_is_one_straight_line_bit_for_bit_the_hand_code() -> None:
    model = _mlp()
    x = RNG.normal(size=(7, 6)).astype("float32")
    for _ in range(3):  # the first call plans, the next ones take Plan.__call__'s short path
        out = kif.run(model, x)
        assert list(out) == ["d2"] and out["d2"].dtype == np.float32
        np.testing.assert_array_equal(out["d2"], _hand(x))
    assert plan.plan_for(model)._fast is not None, "the mlp runs as a straight line"
    np.testing.assert_array_equal(kif.run(model, {"x": x})["d2"], _hand(x))
    first = kif.run(model, x)["d2"]
    second = kif.run(model, x)["d2"]
    assert first is not second and not np.shares_memory(first, second), "every call returns an array of its own"


def test_softmax_underflow_raises_nothing_whatever_numpy_error_state() -> None:
    model = _mlp(scale=400.0)  # logits hundreds apart: exp underflows to 0
    x = RNG.normal(size=(5, 6)).astype("float32")
    expected = _hand(x, scale=400.0)
    assert (expected == 0).any(), "the test needs an underflow"
    kif.run(model, x)
    for mode in ("raise", "warn", "ignore"):
        with np.errstate(under=mode), warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_array_equal(kif.run(model, x)["d2"], expected)
    with np.errstate(under="raise"), pytest.raises(FloatingPointError):
        np.exp(np.float32([-200.0]))  # the error state was in force for the calls above


def test_the_short_path_lets_no_wrong_input_through() -> None:
    model = _mlp()
    x = RNG.normal(size=(2, 6)).astype("float32")
    kif.run(model, x)
    kif.run(model, x)
    cases = {
        "rank": x.reshape(2, 3, 2),
        "extent": np.zeros((2, 7), "float32"),
        "dtype": x.astype("complex64"),
        "strings": np.array([["a"] * 6]),
    }
    for why, wrong in cases.items():
        with pytest.raises(KifError) as info:
            kif.run(model, wrong)
        assert (info.value.code, info.value.pointer) == ("run-inputs", "x"), why
    for inputs in ({"y": x}, {"x": x, "extra": x}, [x], {}):
        with pytest.raises(KifError) as info:
            kif.run(model, inputs)  # type: ignore[arg-type]
        assert info.value.code == "run-inputs"
    for same in (x.astype(">f4"), x.astype("float64"), x.view(np.recarray), x.tolist(), x[None][0]):
        np.testing.assert_allclose(kif.run(model, same)["d2"], _hand(x), rtol=1e-6, atol=1e-7)  # cast or checked in full
    other = RNG.normal(size=(3, 6)).astype("float32")  # another batch: its own schedule, then the short path again
    np.testing.assert_array_equal(kif.run(model, other)["d2"], _hand(other))
    np.testing.assert_array_equal(kif.run(model, x)["d2"], _hand(x))


def test_the_short_path_applies_the_limits_in_force_and_sees_an_edit() -> None:
    model = _mlp()
    x = np.ones((4, 6), "float32")
    kif.run(model, x)
    kif.run(model, x)
    with limits.override(max_tensor_elements=16), pytest.raises(KifError) as info:
        kif.run(model, x)
    assert info.value.code == "limit-exceeded" and info.value.pointer == "d0"
    kif.run(model, x)
    model.layers[2].attributes["activation"] = "linear"  # an attribute edited in place: the plan is rebuilt
    y = x
    for kernel, bias in WEIGHTS[:2]:
        y = np.maximum(y @ kernel + bias, 0)
    np.testing.assert_array_equal(kif.run(model, x)["d2"], y @ WEIGHTS[2][0] + WEIGHTS[2][1])


def test_a_failing_step_on_the_short_path_names_its_layer() -> None:
    model = _mlp()
    x = np.ones((1, 6), "float32")
    kif.run(model, x)
    built = plan.plan_for(model)
    chain = built._fast[4]  # type: ignore[index]
    _, step = chain[1]

    def broken(y: np.ndarray) -> np.ndarray:
        raise ValueError("broken kernel")

    chain[1] = (broken, step)
    with pytest.raises(KifError) as info:
        kif.run(model, x)
    assert (info.value.code, info.value.pointer) == ("run-failed", "d1") and "broken kernel" in str(info.value)


def test_no_straight_line_when_an_intermediate_is_read_twice() -> None:
    model = _mlp()
    model.outputs.insert(0, kif.TensorSpec("d0", "float32", (None, 5)))  # d0 is a graph output too
    x = RNG.normal(size=(3, 6)).astype("float32")
    for _ in range(2):
        out = kif.run(model, x)
        assert list(out) == ["d0", "d2"]
        np.testing.assert_array_equal(out["d2"], _hand(x))
        np.testing.assert_array_equal(out["d0"], np.maximum(x @ WEIGHTS[0][0] + WEIGHTS[0][1], 0))
    assert plan.plan_for(model)._fast is None
