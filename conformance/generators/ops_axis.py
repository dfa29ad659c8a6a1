"""Cases for the ops along an axis (spec/ops/axis.md): Keras 3 models of keras.ops calls, and builder bundles with
hand-derived (NumPy) expected values where Keras-torch cannot state the spec's reading (out-of-range one_hot, exclusive
and reversed cumsum, ties in top_k and sort, repeat lists, broadcasting take_along_axis).

``python conformance/generators/ops_axis.py [OUT_ROOT]`` rewrites ``cases/ops_axis/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import _suite as s
import kif
import numpy as np
from _suite import Case, layer_case
from _suite import keras as K

ops = K.ops
KERAS: dict[str, tuple[str, Callable[[], Any], tuple[tuple[int, ...], ...]]] = {
    "split-sections": ("op.split into equal parts (two outputs)", lambda: lambda x: ops.split(x, 2, axis=-1), ((3, 4),)),
    "split-indices": ("op.split at cut positions (three outputs)", lambda: lambda x: ops.split(x, [1, 3], axis=1), ((4, 2),)),
    "repeat-count": ("op.repeat of every element twice", lambda: lambda x: ops.repeat(x, 2, axis=1), ((3, 4),)),
    "cumsum-axis": ("op.cumsum along an axis", lambda: lambda x: ops.cumsum(x, axis=1), ((3, 4),)),
    "log-softmax-axis1": ("op.log_softmax along a middle axis", lambda: lambda x: ops.log_softmax(x, axis=1), ((3, 4),)),
    "top-k": ("op.top_k values and indices (two outputs)", lambda: lambda x: list(ops.top_k(x, 3)), ((3, 5),)),
    "sort-axis1": ("op.sort along a middle axis", lambda: lambda x: ops.sort(x, axis=1), ((3, 4),)),
}


def _builder(op_type: str, outputs: int = 1, **attrs: Any) -> Callable[[Any], kif.Model]:
    def make(model: Any) -> kif.Model:
        b = kif.GraphBuilder(model.name)
        names = [b.input(t.name, K.backend.standardize_dtype(t.dtype), tuple(t.shape)) for t in model.inputs]
        made = b.add(op_type, names if len(names) > 1 else names[0], name="op", num_outputs=outputs, **attrs)
        for tensor in made if isinstance(made, tuple) else [made]:
            b.output(tensor)
        return b.build()

    return make


def _hand(cid: str, what: str, op_type: str, attrs: dict[str, Any], inputs: list[np.ndarray], want: list[np.ndarray]) -> Case:
    shapes = [x.shape[1:] for x in inputs]
    dtypes = [str(x.dtype) for x in inputs]
    model = s.layer_model(lambda: lambda x: x, shapes, dtypes if len(dtypes) > 1 else dtypes[0])
    return Case(cid, what, model, inputs, bundle=_builder(op_type, len(want), **attrs), formula=lambda m, xs: want)


def cases() -> Iterator[Case]:
    for cid, (what, build, shapes) in KERAS.items():
        yield layer_case(f"op-{cid}", what, build, *shapes)
    x = s.normal(s.rng_for("op-take-along-axis"), 2, 3, 4)
    i = s.rng_for("op-take-along-axis", "i").integers(-4, 4, (2, 3, 2)).astype("int32")
    yield Case(
        "op-take-along-axis",
        "op.take_along_axis with negative indices",
        s.layer_model(lambda: lambda xs: ops.take_along_axis(xs[0], xs[1], axis=2), ((3, 4), (3, 2)), ("float32", "int32")),
        [x, i],
    )
    labels = np.array([[0, 4, 2], [1, 3, 3]], "int32")
    yield Case(
        "op-one-hot", "op.one_hot of in-range labels", s.layer_model(lambda: lambda t: ops.one_hot(t, 5), ((3,),), "int32"), [labels]
    )
    wide = np.array([[0, 2, -1], [3, -3, 1]], "int32")
    hot = np.array([[[5, -1, -1], [-1, -1, 5], [-1, -1, -1]], [[-1, -1, -1], [-1, -1, -1], [-1, 5, -1]]], "float32")
    yield _hand("op-one-hot-out-of-range", "op.one_hot: indices outside [0, depth) are off everywhere", "op.one_hot",
                {"depth": 3, "on_value": 5, "off_value": -1}, [wide], [hot])  # fmt: skip
    ramp = np.array([[1, 2, 3, 4], [0, 1, 0, -1]], "float32")
    yield _hand("op-cumsum-exclusive-reverse", "op.cumsum exclusive and reversed (tf.math.cumsum)", "op.cumsum",
                {"axis": 1, "exclusive": True, "reverse": True}, [ramp], [np.array([[9, 7, 4, 0], [0, -1, -1, 0]], "float32")])  # fmt: skip
    ties = np.array([[3, 1, 5, 1, 5, 0], [2, 2, 2, 2, -1, 7]], "float32")
    yield _hand("op-top-k-ties", "op.top_k: equal values lowest index first", "op.top_k", {"k": 4, "dtype": "int32"}, [ties],
                [np.array([[5, 5, 3, 1], [7, 2, 2, 2]], "float32"), np.array([[2, 4, 0, 1], [5, 0, 1, 2]], "int32")])  # fmt: skip
    yield _hand("op-sort-descending", "op.sort descending, stable", "op.sort", {"axis": -1, "descending": True}, [ties],
                [np.array([[5, 5, 3, 1, 1, 0], [7, 2, 2, 2, 2, -1]], "float32")])  # fmt: skip
    x = s.normal(s.rng_for("op-repeat-list"), 2, 3, 4)
    yield _hand("op-repeat-list", "op.repeat with a count per element (np.repeat oracle)", "op.repeat",
                {"repeats": [1, 0, 3, 2], "axis": -1}, [x], [np.repeat(x, [1, 0, 3, 2], axis=-1)])  # fmt: skip
    x = s.normal(s.rng_for("op-softmax-axis0"), 2, 3, 4)
    e = np.exp(x.astype(np.float64) - x.max(axis=0))
    yield _hand("op-softmax-axis0", "op.softmax on the first axis (NumPy oracle)", "op.softmax", {"axis": 0}, [x],
                [(e / e.sum(axis=0)).astype("float32")])  # fmt: skip
    x = s.normal(s.rng_for("op-split-sizes"), 2, 6)
    yield _hand("op-split-sizes", "op.split by sizes with an empty part", "op.split", {"splits": [2, 0, 4], "axis": 1}, [x],
                [x[:, :2], x[:, 2:2], x[:, 2:]])  # fmt: skip


if __name__ == "__main__":
    s.main("ops_axis", cases)
