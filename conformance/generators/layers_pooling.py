"""Cases for pooling: max, average, global and adaptive pooling in 1, 2 and 3 dimensions.

``python conformance/generators/layers_pooling.py [OUT_ROOT]`` rewrites ``cases/layers_pooling/``.
Average pooling with ``padding="same"`` and unequal padding takes its expected values from a NumPy
formula (TensorFlow semantics: padded cells are not counted), where Keras-torch counts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _suite as s
import numpy as np
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers
SHAPES = {1: (8, 3), 2: (6, 6, 2), 3: (4, 4, 4, 2)}
FIRST = {1: (3, 8), 2: (2, 6, 6), 3: (2, 4, 4, 4)}


def variants(rank: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("default", {"pool_size": 2}),
        ("pool3-stride1", {"pool_size": 3, "strides": 1}),
        ("pool3-stride2", {"pool_size": 3, "strides": 2}),
        ("same-even", {"pool_size": 2, "padding": "same"}),
        ("pool3-stride1-same", {"pool_size": 3, "strides": 1, "padding": "same"}),
        ("channels-first", {"pool_size": 2, "data_format": "channels_first"}),
    ]


def tf_average_pool_same(x: np.ndarray, pool: int, stride: int) -> np.ndarray:
    """TensorFlow's average pooling, padding same, channels_last: the mean over the window's in-bounds cells."""
    dims = x.shape[1:-1]
    out_sizes = [-(-d // stride) for d in dims]
    pads = [max((o - 1) * stride + pool - d, 0) // 2 for o, d in zip(out_sizes, dims, strict=True)]
    padded = np.pad(x.astype(np.float64), [(0, 0)] + [(p, pool) for p in pads] + [(0, 0)], constant_values=np.nan)
    windows = []
    for offset in np.ndindex(*([pool] * len(dims))):
        index = tuple(slice(o, o + stride * n, stride) for o, n in zip(offset, out_sizes, strict=True))
        windows.append(padded[(slice(None), *index, slice(None))])
    return np.nanmean(np.stack(windows), axis=0).astype(x.dtype)


def cases() -> Iterator[Case]:
    for rank in (1, 2, 3):
        for kind in ("Max", "Average"):
            layer = getattr(L, f"{kind}Pooling{rank}D")
            for name, cfg in variants(rank):
                shape = FIRST[rank] if cfg.get("data_format") == "channels_first" else SHAPES[rank]
                yield layer_case(
                    f"{kind.lower()}pooling{rank}d-{name}", f"{kind}Pooling{rank}D {name}", lambda c=cfg, f=layer: f(**c), shape
                )
            uneven = SHAPES[rank][:-1]
            cid = f"{kind.lower()}pooling{rank}d-pool2-stride2-same-uneven"
            shape = tuple(d + 1 for d in uneven) + SHAPES[rank][-1:]  # odd sizes: padding (0, 1) on every axis
            formula = (lambda m, xs: [tf_average_pool_same(xs[0], 2, 2)]) if kind == "Average" else None
            yield layer_case(
                cid,
                f"{kind}Pooling{rank}D same with uneven padding",
                lambda f=layer: f(2, strides=2, padding="same"),
                shape,
                formula=formula,
            )
            shape = tuple(d + 1 for d in uneven) + SHAPES[rank][-1:]
            cid = f"{kind.lower()}pooling{rank}d-pool3-stride2-same"
            formula = (lambda m, xs: [tf_average_pool_same(xs[0], 3, 2)]) if kind == "Average" else None
            yield layer_case(
                cid,
                f"{kind}Pooling{rank}D pool 3 stride 2 same",
                lambda f=layer: f(3, strides=2, padding="same"),
                SHAPES[rank],
                formula=formula,
            )
            glob = getattr(L, f"Global{kind}Pooling{rank}D")
            for name, cfg in [("default", {}), ("keepdims", {"keepdims": True}), ("channels-first", {"data_format": "channels_first"})]:
                shape = FIRST[rank] if cfg.get("data_format") == "channels_first" else SHAPES[rank]
                yield layer_case(
                    f"global{kind.lower()}pooling{rank}d-{name}", f"Global{kind}Pooling{rank}D {name}", lambda c=cfg, f=glob: f(**c), shape
                )

    yield from adaptive_cases()


ADAPTIVE_SIZES = {1: [("uneven", 3), ("up", 11), ("one", 1)], 2: [("uneven", (4, 3)), ("up", (7, 8)), ("one", 1)],
                  3: [("uneven", (3, 2, 3)), ("up", (5, 6, 4)), ("one", 1)]}  # fmt: skip


def adaptive_cases() -> Iterator[Case]:
    """Adaptive pooling (since 0.2.0): overlapping windows (size not dividing the input), repeated cells (output larger
    than the input), a global window, channels_first."""
    for rank in (1, 2, 3):
        for kind in ("Average", "Max"):
            layer = getattr(L, f"Adaptive{kind}Pooling{rank}D")
            for name, size in ADAPTIVE_SIZES[rank]:
                yield layer_case(
                    f"adaptive{kind.lower()}pooling{rank}d-{name}", f"Adaptive{kind}Pooling{rank}D output_size={size}",
                    lambda f=layer, o=size: f(o), SHAPES[rank],
                )  # fmt: skip
            size = ADAPTIVE_SIZES[rank][0][1]
            yield layer_case(
                f"adaptive{kind.lower()}pooling{rank}d-channels-first", f"Adaptive{kind}Pooling{rank}D channels_first",
                lambda f=layer, o=size: f(o, data_format="channels_first"), FIRST[rank],
            )  # fmt: skip


if __name__ == "__main__":
    s.main("layers_pooling", cases)
