"""Embedding: y[..., :] = embeddings[ids[...], :] (spec/layers/Embedding.md).

Ids are integers in 0 .. input_dim - 1; any other id is an error (the runtime names
the layer). With mask_zero the layer has a second output, the bool mask ids != 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers.registry import ShapeError, TensorType, register_layer

_INTEGERS = ("int8", "int16", "int32", "int64", "uint8")


@register_layer("Embedding")
class Embedding:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        ids = only(inputs)
        if ids.dtype not in _INTEGERS:
            raise ShapeError(f"expected integer ids ({', '.join(_INTEGERS)}). Received: dtype {ids.dtype}")
        table = weights.get("embeddings")
        expected = (attrs["input_dim"], attrs["output_dim"])
        if table is not None and tuple(table) != expected:
            raise ShapeError(f"expected embeddings of shape {list(expected)}. Received: embeddings shape {list(table)}")
        # The output dtype is the table's. Shape rules see weight shapes only, not dtypes, so this says float32,
        # the dtype of every Keras-exported table; a float16 table gives float16 at run time.
        out = [TensorType("float32", (*ids.shape, attrs["output_dim"]))]
        if attrs["mask_zero"]:
            out.append(TensorType("bool", ids.shape))
        return out

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        ids = inputs[0]
        assert ids is not None
        table = weights["embeddings"]
        if ids.size and (ids.min() < 0 or ids.max() >= attrs["input_dim"]):
            bad = ids[(ids < 0) | (ids >= attrs["input_dim"])]
            raise ValueError(f"expected ids in [0, {attrs['input_dim']}). Received: {bad.size} id(s) out of range, e.g. {int(bad.flat[0])}")
        out = [np.take(table, ids, axis=0)]
        if attrs["mask_zero"]:
            out.append(ids != 0)
        return out
