"""IntegerLookup: tokens to vocabulary indices (or back), then optionally encoded (spec/layers/IntegerLookup.md).

Index layout: [mask (int mode with a mask token)] [num_oov_indices OOV slots] [vocabulary]."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers._encoding import encode, encoded_shape
from kif.layers.registry import ShapeError, TensorType, register_layer


def oov_start(attrs: dict[str, Any]) -> int:
    return 1 if attrs["mask_token"] is not None and attrs["output_mode"] == "int" else 0


def token_start(attrs: dict[str, Any]) -> int:
    return oov_start(attrs) + int(attrs["num_oov_indices"])


def depth(attrs: dict[str, Any]) -> int:
    size = token_start(attrs) + len(attrs["vocabulary"])
    return int(attrs["max_tokens"]) if attrs["pad_to_max_tokens"] and attrs["max_tokens"] is not None else size


def check(attrs: dict[str, Any], weights: dict[str, tuple[int, ...]]) -> None:
    vocab = list(attrs["vocabulary"])
    if len(set(vocab)) != len(vocab):
        raise ShapeError("expected a vocabulary without repeated tokens")
    if attrs["mask_token"] is not None and attrs["mask_token"] in vocab:
        raise ShapeError(f"expected a vocabulary without the mask token {attrs['mask_token']}")
    if attrs["salt"] is not None and attrs["oov_method"] != "farmhash":
        raise ShapeError("expected salt null unless oov_method is 'farmhash' (floormod does not hash)")
    if attrs["invert"] and (attrs["output_mode"] != "int" or attrs["oov_token"] in vocab):
        raise ShapeError("expected output_mode='int' and a vocabulary without oov_token when invert is true")
    size = token_start(attrs) + len(vocab)
    if attrs["pad_to_max_tokens"] and attrs["max_tokens"] is not None and attrs["max_tokens"] < size:
        raise ShapeError(f"expected max_tokens >= {size} (the vocabulary with its special indices). Received: {attrs['max_tokens']}")
    idf = weights.get("idf_weights")
    if idf is not None and tuple(idf) != (depth(attrs),):
        raise ShapeError(f"expected idf_weights of shape [{depth(attrs)}] (one per encoded slot). Received: {list(idf)}")


def oov_hash(tokens: np.ndarray, buckets: int, salt: list[int] | None = None) -> np.ndarray:
    """TensorFlow's to_hash_bucket_fast (no salt: Fingerprint64) or to_hash_bucket_strong (SipHash-2-4 keyed by
    the salt) of the decimal strings, mod buckets (pyfarmhash or siphash24, imported lazily)."""
    if salt is None:
        try:
            import farmhash  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise ValueError("oov_method='farmhash' needs pyfarmhash (pip install pyfarmhash)") from exc
        digest = farmhash.fingerprint64
        return np.array([digest(str(int(t))) % buckets for t in tokens.reshape(-1)], np.int64).reshape(tokens.shape)
    from kif import hashes

    return hashes.buckets(hashes.as_decimal(tokens), buckets, salt)


def lookup(attrs: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Token -> index (int64); a mask token in a non-int mode gives -1 (dropped by the encoding)."""
    vocab = np.asarray(attrs["vocabulary"], np.int64)
    order = np.argsort(vocab, kind="stable")
    pos = np.clip(np.searchsorted(vocab[order], x), 0, len(vocab) - 1)
    found = vocab[order][pos] == x
    ids = np.where(found, order[pos] + token_start(attrs), -2).astype(np.int64)
    unknown = ~found
    mask = attrs["mask_token"]
    if mask is not None:
        unknown &= x != mask
        ids = np.where(x == mask, 0 if attrs["output_mode"] == "int" else -1, ids)
    n = int(attrs["num_oov_indices"])
    if unknown.any():
        if n == 0:
            raise ValueError(f"expected tokens in the vocabulary (num_oov_indices=0). Received: {int(x[unknown].flat[0])}")
        if n == 1:
            slot = np.zeros_like(x)
        elif attrs["oov_method"] == "floormod":
            slot = np.mod(x, n)
        else:
            slot = oov_hash(x, n, attrs["salt"])
        ids = np.where(unknown, slot + oov_start(attrs), ids)
    return ids


def invert(attrs: dict[str, Any], x: np.ndarray) -> np.ndarray:
    table = [attrs["oov_token"]] * token_start(attrs) + list(attrs["vocabulary"])
    if oov_start(attrs):
        table[0] = attrs["mask_token"]
    table_arr = np.asarray(table, np.int64)
    inside = (x >= 0) & (x < len(table_arr))
    return np.where(inside, table_arr[np.clip(x, 0, len(table_arr) - 1)], np.int64(attrs["oov_token"]))


@register_layer("IntegerLookup")
class IntegerLookup:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if not (x.dtype.startswith("int") or x.dtype.startswith("uint")):
            raise ShapeError(f"expected an integer input. Received: {x.dtype}")
        check(attrs, weights)
        mode = attrs["output_mode"]
        if mode == "int":
            return [TensorType("int64", tuple(x.shape))]
        dtype = "float32" if mode == "tf_idf" else attrs["output_dtype"]
        return [TensorType(dtype, encoded_shape(tuple(x.shape), "count" if mode == "tf_idf" else mode, depth(attrs), "IntegerLookup"))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        x = np.asarray(x).astype(np.int64)
        if attrs["invert"]:
            return [invert(attrs, x)]
        ids = lookup(attrs, x)
        mode = attrs["output_mode"]
        if mode == "int":
            return [ids]
        if mode == "tf_idf":
            counts = encode(ids, "count", depth(attrs), np.float32, drop_negative=True)
            return [counts * np.asarray(weights["idf_weights"]).astype(np.float32)]
        return [encode(ids, mode, depth(attrs), np.dtype(attrs["output_dtype"]), drop_negative=True)]
