"""Vocabulary lookup and categorical encoding shared by StringLookup, Hashing, HashedCrossing (and TextVectorization).

Index space of a lookup (Keras's IndexLookup): ``[mask] [OOV x num_oov_indices] [vocabulary...]``, where the mask
slot exists only for ``output_mode="int"``; in the other modes a mask token is dropped from the encoding.
``encode`` and ``encoded_shape`` are Keras's ``encode_categorical_inputs`` (TF's bincount path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kif import hashes
from kif.graph import Shape
from kif.layers.registry import ShapeError

MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
VOCABULARY_ENTRIES = 1_048_576  # spec/tensors.md#vocabularies
ENTRY_BYTES = 4096


def check_vocabulary(tokens: Sequence[str], what: str = "vocabulary") -> None:
    """At most VOCABULARY_ENTRIES distinct entries of at most ENTRY_BYTES UTF-8 bytes (a shape-rule error)."""
    if len(tokens) > VOCABULARY_ENTRIES:
        raise ShapeError(f"expected at most {VOCABULARY_ENTRIES} {what} entries. Received: {len(tokens)}")
    seen: set[str] = set()
    for index, token in enumerate(tokens):
        if len(token.encode("utf-8", "surrogatepass")) > ENTRY_BYTES:
            raise ShapeError(f"expected {what} entries of at most {ENTRY_BYTES} UTF-8 bytes. Received: entry {index}")
        if token in seen:
            raise ShapeError(f"expected distinct {what} entries. Received: {token!r} repeated at entry {index}")
        seen.add(token)


def encoded_shape(shape: Shape, mode: str, depth: int) -> Shape:
    """The output shape of ``encode``: int keeps the shape; one_hot appends ``depth`` (a last axis of 1 is replaced);
    multi_hot, count and tf_idf replace the last axis of a rank-1 or rank-2 input by ``depth``."""
    if mode == "int":
        return shape
    if len(shape) == 0:
        shape = (1,)
    if mode == "one_hot":
        if len(shape) > 1 and shape[-1] is None:
            raise ShapeError("expected a known last dimension for output_mode='one_hot' (a last axis of 1 is replaced)")
        return (*shape[:-1], depth) if len(shape) > 1 and shape[-1] == 1 else (*shape, depth)
    if len(shape) > 2:
        raise ShapeError(f"expected an input of rank 1 or 2 for output_mode={mode!r}. Received: shape {list(shape)}")
    return (*shape[:-1], depth)


def encode(indices: np.ndarray, mode: str, depth: int, dtype: Any, idf: np.ndarray | None = None) -> np.ndarray:
    """Indices (int64; values outside ``[0, depth)`` count nowhere) encoded as ``mode``."""
    if mode == "int":
        return indices.astype(dtype)
    x = indices.reshape(1) if indices.ndim == 0 else indices
    if mode == "one_hot":
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x[..., 0]
        return (x[..., None] == np.arange(depth)).astype(dtype)
    valid = (x >= 0) & (x < depth)
    rows = x.reshape(-1, x.shape[-1]) if x.ndim == 2 else x.reshape(1, -1)
    keep = valid.reshape(rows.shape)
    counts = np.zeros((rows.shape[0], depth), dtype=np.int64)
    row_ids = np.broadcast_to(np.arange(rows.shape[0])[:, None], rows.shape)
    np.add.at(counts, (row_ids[keep], rows[keep]), 1)
    if mode == "multi_hot":
        counts = np.minimum(counts, 1)
    out = counts.reshape((*x.shape[:-1], depth))
    if mode == "tf_idf":
        assert idf is not None
        return (out.astype(np.float32) * idf.astype(np.float32)).astype(dtype)
    return out.astype(dtype)


def table(tokens: Sequence[str], start: int) -> dict[str, int]:
    return {token: start + i for i, token in enumerate(tokens)}


def lookup_strings(
    values: np.ndarray,
    tokens: Sequence[str],
    *,
    mode: str,
    num_oov: int,
    mask_token: str | None,
    salt: Sequence[int] | None,
) -> np.ndarray:
    """StringLookup's forward map (not inverted): an int64 index per string element.

    Raises ValueError naming the first token when ``num_oov`` is 0 and a value is out of vocabulary.
    """
    oov_start = 1 if mask_token is not None and mode == "int" else 0
    index = table(tokens, oov_start + num_oov)
    flat = values.reshape(-1)
    out = np.empty(flat.shape, dtype=np.int64)
    misses: list[int] = []
    mask_value = 0 if mode == "int" else np.iinfo(np.int64).max  # dropped from any encoding
    for i, value in enumerate(flat):
        if mask_token is not None and value == mask_token:
            out[i] = mask_value
            continue
        found = index.get(value)
        if found is None:
            misses.append(i)
            found = oov_start
        out[i] = found
    if misses and num_oov == 0:
        raise ValueError(f"with num_oov_indices=0 every input must be in the vocabulary. Received: {flat[misses[0]]!r}")
    if misses and num_oov > 1:
        digest = hashes.hasher(salt)
        for i in misses:
            out[i] = oov_start + digest(flat[i]) % num_oov
    return out.reshape(values.shape)


def invert_lookup(indices: np.ndarray, tokens: Sequence[str], *, num_oov: int, mask_token: str | None, oov_token: str) -> np.ndarray:
    """StringLookup(invert=True): index to token; the mask index to the mask token, every other index to the OOV token."""
    start = (1 if mask_token is not None else 0) + num_oov
    out = np.empty(indices.shape, dtype=object)
    flat: Any = out.reshape(-1)
    for i, value in enumerate(indices.reshape(-1).tolist()):
        if mask_token is not None and value == 0:
            flat[i] = mask_token
        elif start <= value < start + len(tokens):
            flat[i] = tokens[value - start]
        else:
            flat[i] = oov_token
    return out
