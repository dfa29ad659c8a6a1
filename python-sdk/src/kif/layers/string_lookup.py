"""StringLookup (spec/layers/StringLookup.md): Keras's IndexLookup over a vocabulary of strings, TF's semantics."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers._lookup import check_vocabulary, encode, encoded_shape, invert_lookup, lookup_strings
from kif.layers.registry import ShapeError, TensorType, register_layer
from kif.strings import STRING

_INTS = ("int64", "int32", "int16", "int8", "uint8")


def index_size(attrs: dict[str, Any]) -> int:
    """Indices the lookup can produce: the mask (int mode only), the OOV indices, the vocabulary."""
    mask = 1 if attrs["mask_token"] is not None and attrs["output_mode"] == "int" else 0
    return mask + attrs["num_oov_indices"] + len(attrs["vocabulary"])


def depth(attrs: dict[str, Any]) -> int:
    """Width of the one_hot/multi_hot/count/tf_idf encodings."""
    if attrs["pad_to_max_tokens"]:
        if attrs["max_tokens"] is None:
            raise ShapeError("expected max_tokens with pad_to_max_tokens=true")
        return int(attrs["max_tokens"])
    return index_size(attrs)


def _check(attrs: dict[str, Any]) -> None:
    check_vocabulary(attrs["vocabulary"])
    reserved = {attrs["mask_token"]} | ({attrs["oov_token"]} if attrs["invert"] else set())
    clash = next((t for t in attrs["vocabulary"] if t in reserved), None)
    if clash is not None:
        raise ShapeError(f"expected a vocabulary without the mask token (and, inverted, the OOV token). Received: {clash!r}")
    if attrs["max_tokens"] is not None and index_size(attrs) > attrs["max_tokens"]:
        raise ShapeError(f"expected at most max_tokens={attrs['max_tokens']} indices. Received: {index_size(attrs)}")
    if attrs["invert"] and attrs["output_mode"] != "int":
        raise ShapeError(f"expected output_mode='int' with invert=true. Received: {attrs['output_mode']!r}")


@register_layer("StringLookup")
class StringLookup:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        _check(attrs)
        if attrs["invert"]:
            if x.dtype not in _INTS:
                raise ShapeError(f"expected integer indices with invert=true. Received: dtype {x.dtype}")
            return [TensorType(STRING, x.shape)]
        if x.dtype != STRING:
            raise ShapeError(f"expected a string input. Received: dtype {x.dtype}")
        mode = attrs["output_mode"]
        size = depth(attrs)
        if mode == "tf_idf" and weights.get("idf_weights") != (size,):
            raise ShapeError(f"expected idf_weights of shape [{size}]. Received: {list(weights.get('idf_weights') or [])}")
        return [TensorType("float32" if mode == "tf_idf" else "int64", encoded_shape(x.shape, mode, size))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        tokens, mask = attrs["vocabulary"], attrs["mask_token"]
        if attrs["invert"]:
            oov = attrs["oov_token"]
            return [invert_lookup(x.astype(np.int64), tokens, num_oov=attrs["num_oov_indices"], mask_token=mask, oov_token=oov)]
        mode = attrs["output_mode"]
        # an OOV token with num_oov_indices=0 raises ValueError: the runtime reports it as run-failed
        index = lookup_strings(x, tokens, mode=mode, num_oov=attrs["num_oov_indices"], mask_token=mask, salt=attrs["salt"])
        dtype = np.dtype(np.float32 if mode == "tf_idf" else np.int64)
        return [encode(index, mode, depth(attrs), dtype, weights.get("idf_weights"))]
