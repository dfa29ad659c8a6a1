"""Cases for the tf.keras 2 types Keras 3 removed: LocallyConnected1D/2D (unshared convolutions).

``python conformance/generators/layers_keras2.py [OUT_ROOT]`` rewrites ``cases/layers_keras2/``.

Keras 3 has no such layer, so each case is a KIF one-layer bundle with seeded weights and the expected output is
a direct loop over output positions and taps (the page's formula), never the reference runtime.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import _suite as s
import numpy as np
from _suite import Case, layer_case
from _suite import keras as K

# id, description, spatial, kernel_size, strides, padding, channels_first, use_bias, activation, level
LOCALLY_CONNECTED = [
    ("lc1d-valid", "LocallyConnected1D valid, kernel 3", [9], [3], [1], "valid", 0, 1, "linear", "core"),
    ("lc1d-same-even-kernel", "LocallyConnected1D local same, kernel 2 stride 2", [9], [2], [2], "same", 0, 1, "linear", "core"),
    ("lc1d-same-stride3", "LocallyConnected1D local same, kernel 4 stride 3", [8], [4], [3], "same", 0, 1, "tanh", "extended"),
    ("lc1d-channels-first-nobias", "LocallyConnected1D channels_first, no bias", [7], [3], [2], "valid", 1, 0, "relu", "extended"),
    ("lc2d-valid", "LocallyConnected2D valid, kernel 2x3 strides 1x2", [5, 6], [2, 3], [1, 2], "valid", 0, 1, "linear", "core"),
    ("lc2d-same", "LocallyConnected2D local same, kernel 3x2 strides 2x1", [5, 6], [3, 2], [2, 1], "same", 0, 1, "linear", "core"),
    ("lc2d-channels-first-same", "LocallyConnected2D channels_first, same", [4, 5], [2, 2], [1, 2], "same", 1, 1, "sigmoid", "extended"),
]
CHANNELS, FILTERS = 3, 4
ACT = {"linear": lambda y: y, "tanh": np.tanh, "relu": lambda y: np.maximum(y, 0), "sigmoid": lambda y: 1 / (1 + np.exp(-y))}


def _loop(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, strides: list[int], padding: str, first: bool) -> np.ndarray:
    d = x.ndim - 2
    xl = np.moveaxis(x, 1, -1).astype(np.float64) if first else x.astype(np.float64)
    out, ksize = kernel.shape[:d], kernel.shape[d : 2 * d]
    lefts = [k // 2 if padding == "same" else 0 for k in ksize]
    y = np.zeros((x.shape[0], *out, kernel.shape[-1]))
    for o in itertools.product(*(range(n) for n in out)):
        for t in itertools.product(*(range(k) for k in ksize)):
            cell = [oi * st - left + ti for oi, st, left, ti in zip(o, strides, lefts, t, strict=True)]
            if all(0 <= c < n for c, n in zip(cell, xl.shape[1:-1], strict=True)):
                y[(slice(None), *o)] += xl[(slice(None), *cell)] @ kernel[(*o, *t)]
        if bias is not None:
            y[(slice(None), *o)] += bias[o]
    return np.moveaxis(y, -1, 1) if first else y


def _case(
    cid: str,
    description: str,
    spatial: list[int],
    ksize: list[int],
    strides: list[int],
    padding: str,
    first: int,
    use_bias: int,
    act: str,
    level: str,
) -> Case:
    rng = s.rng_for(cid, "weights")
    fmt = "channels_first" if first else "channels_last"
    out = [-(-n // st) if padding == "same" else (n - k) // st + 1 for n, k, st in zip(spatial, ksize, strides, strict=True)]
    weights = {"kernel": rng.normal(size=(*out, *ksize, CHANNELS, FILTERS)).astype("float32")}
    if use_bias:
        weights["bias"] = rng.normal(size=(*out, FILTERS)).astype("float32")
    shape = (CHANNELS, *spatial) if first else (*spatial, CHANNELS)
    kind = f"LocallyConnected{len(spatial)}D"
    attrs: dict[str, Any] = {"filters": FILTERS, "kernel_size": ksize, "strides": strides, "padding": padding}
    attrs |= {"data_format": fmt, "use_bias": bool(use_bias), "activation": act}

    def formula(model: Any, xs: list[np.ndarray]) -> list[np.ndarray]:
        y = _loop(xs[0], weights["kernel"], weights.get("bias"), strides, padding, bool(first))
        return [ACT[act](y).astype(np.float32)]

    def bundle(model: Any) -> Any:
        b = s.kif.GraphBuilder(model.name)
        x = b.input(model.inputs[0].name, "float32", tuple(model.inputs[0].shape))
        b.output(b.add(kind, x, name=cid.replace("-", "_"), weights=weights, **attrs))
        return b.build()

    return layer_case(cid, description, lambda: K.layers.Identity(), shape, level=level, formula=formula, bundle=bundle)


def cases() -> Iterator[Case]:
    for row in LOCALLY_CONNECTED:
        yield _case(*row)


if __name__ == "__main__":
    s.main("layers_keras2", cases)
