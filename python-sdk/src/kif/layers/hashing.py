"""Hashing and HashedCrossing (spec/layers/Hashing.md, spec/layers/HashedCrossing.md): TensorFlow's hashes, bit-exact."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif import hashes
from kif.layers._common import only
from kif.layers._lookup import encode, encoded_shape
from kif.layers.registry import ShapeError, TensorType, register_layer
from kif.strings import STRING

CROSS_KEY = 0xDECAFCAFFE  # tf.sparse.cross_hashed's default hash_key
_INTS = ("int64", "int32", "int16", "int8", "uint8")
_FLOATS = ("float64", "float32", "float16", "bfloat16")
_INT64_MIN = -(2**63)


def _out_dtype(mode: str) -> str:
    return "int64" if mode == "int" else "float32"


def _to_int64(x: np.ndarray) -> np.ndarray:
    """TF's float-to-int64 cast on x86: toward zero; NaN, infinities and values outside int64 give -2^63."""
    f = x.astype(np.float64)
    bad = ~np.isfinite(f) | (f >= 2.0**63) | (f < -(2.0**63))
    return np.where(bad, _INT64_MIN, np.trunc(np.where(bad, 0.0, f))).astype(np.int64)


@register_layer("Hashing")
class Hashing:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if x.dtype not in (STRING, *_INTS, *_FLOATS):
            raise ShapeError(f"expected a string, integer or floating input. Received: dtype {x.dtype}")
        mask = attrs["mask_value"]
        if mask is not None and isinstance(mask, str) != (x.dtype == STRING):
            raise ShapeError(f"expected mask_value of the input's kind (a string for strings, an integer otherwise). Received: {mask!r}")
        return [TensorType(_out_dtype(attrs["output_mode"]), encoded_shape(x.shape, attrs["output_mode"], attrs["num_bins"]))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        bins, mask = attrs["num_bins"], None
        if attrs["mask_value"] is not None and bins > 1:
            bins -= 1
            mask = np.asarray(x == attrs["mask_value"], dtype=bool)
        values = x
        if values.dtype != object:
            values = hashes.as_decimal(_to_int64(values) if values.dtype.kind == "f" or values.dtype.name == "bfloat16" else values)
        index = hashes.buckets(values, bins, attrs["salt"])
        if mask is not None:
            index = np.where(mask, 0, index + 1)
        mode = attrs["output_mode"]
        return [encode(index, mode, attrs["num_bins"], np.dtype(_out_dtype(mode)))]


@register_layer("HashedCrossing")
class HashedCrossing:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        if any(t is None for t in inputs):
            raise ShapeError("expected every input to be set")
        types = [t for t in inputs if t is not None]
        first = types[0].shape
        if len(first) > 2 or (len(first) == 2 and first[-1] not in (1, None)):
            raise ShapeError(f"expected inputs of shape [], [batch] or [batch, 1]. Received: {list(first)}")
        for t in types:
            if t.dtype not in (STRING, *_INTS):
                raise ShapeError(f"expected string or integer inputs. Received: dtype {t.dtype}")
            if len(t.shape) != len(first) or any(a is not None and b is not None and a != b for a, b in zip(t.shape, first, strict=True)):
                raise ShapeError(f"expected inputs of equal shape. Received: {list(first)} and {list(t.shape)}")
        shape = tuple(next((a for a in dims if a is not None), None) for dims in zip(*(t.shape for t in types), strict=True))
        mode = attrs["output_mode"]
        return [TensorType(_out_dtype(mode), encoded_shape(shape, mode, attrs["num_bins"]))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        arrays = [a for a in inputs if a is not None]
        columns = []
        for a in arrays:
            flat = a.reshape(-1)
            if a.dtype == object:
                columns.append([hashes.fingerprint64(v) for v in flat])
            else:
                columns.append([v & hashes.MASK64 for v in flat.astype(np.int64).tolist()])
        bins = attrs["num_bins"]
        out = []
        for features in zip(*columns, strict=True):
            h = CROSS_KEY
            for feature in features:
                h = hashes.fingerprint_cat64(h, feature)
            out.append(h % bins)
        index = np.asarray(out, dtype=np.int64).reshape(arrays[0].shape)
        mode = attrs["output_mode"]
        return [encode(index, mode, bins, np.dtype(_out_dtype(mode)))]
