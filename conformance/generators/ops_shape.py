"""Cases for the shape and indexing ops (spec/ops/shape.md): Keras 3 models of keras.ops calls and ``x[...]``.

``python conformance/generators/ops_shape.py [OUT_ROOT]`` rewrites ``cases/ops_shape/``. Expected values come from
Keras; negative slice steps and reflect/symmetric padding (which Keras-torch refuses) use NumPy indexing and np.pad,
with bundles built by ``kif.GraphBuilder``.
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
    "reshape-batch": ("op.reshape across the batch axis", lambda: lambda x: ops.reshape(x, (2, -1)), ((3, 4),)),
    "transpose-batch": ("op.transpose moving the batch axis", lambda: lambda x: ops.transpose(x, (2, 0, 1)), ((3, 4),)),
    "transpose-reverse": ("op.transpose with perm null", lambda: lambda x: ops.transpose(x), ((3, 4),)),
    "expand-dims-front": ("op.expand_dims before the batch axis", lambda: lambda x: ops.expand_dims(x, 0), ((3, 4),)),
    "squeeze-axes": ("op.squeeze of two axes", lambda: lambda x: ops.squeeze(x, axis=(1, 3)), ((1, 4, 1),)),
    "stack-axis1": ("op.stack of two inputs on axis 1", lambda: lambda xs: ops.stack(xs, axis=1), ((3, 4), (3, 4))),
    "slice-pick": ("op.strided_slice picking an index", lambda: lambda x: x[:, 0], ((3, 4),)),
    "slice-newaxis": ("op.strided_slice with a new axis and a range", lambda: lambda x: x[:, None, 1:3], ((3, 4),)),
    "slice-ellipsis": ("op.strided_slice with an ellipsis and a stride", lambda: lambda x: x[..., 1::2], ((3, 4),)),
    "slice-clamped": ("op.strided_slice with bounds past the ends", lambda: lambda x: x[:, -10:10, 5:], ((3, 4),)),
    "take-axis": ("op.take along an axis with constant indices", lambda: lambda x: ops.take(x, [2, 0, -1], axis=1), ((3, 4),)),
    "take-scalar": ("op.take of one index drops the axis", lambda: lambda x: ops.take(x, 1, axis=2), ((3, 4),)),
    "pad-constant": (
        "op.pad with a constant value",
        lambda: lambda x: ops.pad(x, ((0, 0), (1, 2), (0, 1)), constant_values=-1.5),
        ((3, 4),),
    ),
    "tile": ("op.tile with more repeats than axes", lambda: lambda x: ops.tile(x, (2, 1, 1, 2)), ((3, 4),)),
    "broadcast-to": ("op.broadcast_to a larger shape", lambda: lambda x: ops.broadcast_to(x, (2, 3, 4)), ((1, 4),)),
    "matmul-batched": ("op.matmul of batched matrices", lambda: lambda xs: ops.matmul(*xs), ((3, 4), (4, 5))),
    "matmul-vector": ("op.matmul of a matrix and a vector", lambda: lambda xs: ops.matmul(xs[0], xs[1][0]), ((3, 4), (4,))),
    "einsum-explicit": ("op.einsum with an explicit output", lambda: lambda xs: ops.einsum("bij,bjk->bik", *xs), ((3, 4), (4, 5))),
    "einsum-ellipsis": ("op.einsum with an ellipsis, implicit output", lambda: lambda xs: ops.einsum("...j,bjk", *xs), ((3, 4), (4, 5))),
}


def _builder(op_type: str, n: int, **attrs: Any) -> Callable[[Any], kif.Model]:
    def make(model: Any) -> kif.Model:
        b = kif.GraphBuilder(model.name)
        names = [b.input(t.name, K.backend.standardize_dtype(t.dtype), tuple(t.shape)) for t in model.inputs]
        b.output(b.add(op_type, names if n > 1 else names[0], name="op", **attrs))
        return b.build()

    return make


def _numpy_case(cid: str, what: str, op_type: str, attrs: dict[str, Any], oracle: Callable[[np.ndarray], np.ndarray]) -> Case:
    return layer_case(cid, what, lambda: lambda x: x, (3, 4), bundle=_builder(op_type, 1, **attrs), formula=lambda m, xs: [oracle(xs[0])])


def cases() -> Iterator[Case]:
    for cid, (what, build, shapes) in KERAS.items():
        yield layer_case(f"op-{cid}", what, build, *shapes)
    yield layer_case(
        "op-concatenate-axis0",
        "op.concatenate on the batch axis",
        lambda: lambda xs: ops.concatenate(xs, axis=0),
        (3, 4),
        (3, 4),
        bundle=_builder("op.concatenate", 2, axis=0),
    )
    steps: dict[str, tuple[list[Any], Any]] = {
        "reverse": (["...", [None, None, -1]], np.s_[..., ::-1]),
        "negative-step": ([[None, None, None], [2, 0, -1], [None, None, -2]], np.s_[:, 2:0:-1, ::-2]),
        "newaxis-reverse": ([[None, None, -1], "newaxis", 1, [-1, -10, -3]], np.s_[::-1, None, 1, -1:-10:-3]),
    }
    for name, (index, key) in steps.items():
        yield _numpy_case(
            f"op-slice-{name}", f"op.strided_slice {name} (NumPy oracle)", "op.strided_slice", {"index": index}, lambda x, k=key: x[k]
        )
    for mode in ("reflect", "symmetric"):
        pads = [[0, 0], [2, 1], [1, 3]]
        yield _numpy_case(
            f"op-pad-{mode}",
            f"op.pad in {mode} mode (np.pad oracle)",
            "op.pad",
            {"pads": pads, "mode": mode},
            lambda x, p=pads, m=mode: np.pad(x, p, mode=m),
        )
    idx = [s.normal(s.rng_for("op-take-tensor"), 2, 3, 4), np.array([[2, 0], [1, -1]] * 1, "int32").reshape(2, 2)]
    yield Case(
        "op-take-tensor",
        "op.take with integer tensor indices",
        s.layer_model(lambda: lambda xs: ops.take(xs[0], xs[1], axis=1), ((3, 4), (2,)), ("float32", "int32")),
        idx,
    )


if __name__ == "__main__":
    s.main("ops_shape", cases)
