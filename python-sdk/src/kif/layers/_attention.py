"""Shared pieces of the attention kernels: masked softmax, mask building, the scaled dot-product core.

The masking rule (spec/layers/MultiHeadAttention.md, "Masking"): a masked key position gets weight
exactly 0; a query row whose every key position is masked gets uniform weights 1/S, which is the
limit of Keras's additive large-negative masking and what its default attention path returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from kif.layers.registry import ShapeError, TensorType


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """Half-precision inputs are computed in float32 (the spec allows a wider type)."""
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def cast_weights(weights: dict[str, np.ndarray], dtype: np.dtype) -> dict[str, np.ndarray]:
    """Weights cast to the input's dtype (the spec's compute-dtype rule), then to the compute dtype."""
    ct = compute_dtype(dtype)
    return {role: w.astype(dtype, copy=False).astype(ct, copy=False) for role, w in weights.items()}


def masked_softmax(scores: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Softmax over the last axis; ``mask`` (bool, broadcastable) is True where attention is allowed."""
    if mask is not None:
        mask = np.broadcast_to(mask, scores.shape)
        some = mask.any(axis=-1, keepdims=True)
        # Masked logits become -inf; a row with nothing left falls back to all-zero logits (uniform).
        scores = np.where(some, np.where(mask, scores, -np.inf), 0).astype(scores.dtype, copy=False)
    e = scores - np.max(scores, axis=-1, keepdims=True)
    np.exp(e, out=e)  # in place: the scores are [.., Tq, S], the largest temporaries of the layer
    e /= np.sum(e, axis=-1, keepdims=True)
    return e


def band_mask(tq: int, tv: int, causal: bool, window: int | None) -> np.ndarray | None:
    """[Tq, Tv] bool: causal keeps j <= i (top-left aligned); a window keeps |i - j| < window."""
    if not causal and window is None:
        return None
    i = np.arange(tq)[:, None]
    j = np.arange(tv)[None, :]
    mask = np.ones((tq, tv), dtype=bool)
    if causal:
        mask &= j <= i
    if window is not None:
        mask &= np.abs(i - j) < window
    return mask


def conjoin(*masks: np.ndarray | None) -> np.ndarray | None:
    """Logical AND of the masks that are present (they broadcast)."""
    out: np.ndarray | None = None
    for m in masks:
        if m is not None:
            out = m if out is None else out & m
    return out


def query_scale(depth: int) -> float:
    """The factor multi-head attention scales the query by: 1 / sqrt(key_dim) (head_dim for GroupQueryAttention)."""
    return 1.0 / math.sqrt(depth)


def sdpa(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float | None, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """q [Bf, H, Tq, D], k [Bf, H, S, D], v [Bf, H, S, Dv] → (out [Bf, H, Tq, Dv], weights [Bf, H, Tq, S]).

    The query is scaled before the product, in Keras's order (``scale`` None: the caller has scaled it).
    """
    scaled = q if scale is None else q * np.asarray(scale, dtype=q.dtype)
    scores = np.matmul(scaled, np.swapaxes(k, -1, -2))
    if mask is None:  # the softmax in place: scores is matmul's own array (the same operations as masked_softmax)
        scores -= np.max(scores, axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= np.sum(scores, axis=-1, keepdims=True)
        return np.matmul(scores, v), scores
    weights = masked_softmax(scores, mask)
    return np.matmul(weights, v), weights


def project_self(x: np.ndarray, kernels: list[np.ndarray], biases: list[np.ndarray | None]) -> list[np.ndarray]:
    """``project`` of one input by several kernels [f, h, d] as one BLAS matmul (self-attention's q, k and v)."""
    f = kernels[0].shape[0]
    widths = [k.shape[1] * k.shape[2] for k in kernels]
    y = np.matmul(x, np.concatenate([k.astype(x.dtype, copy=False).reshape(f, -1) for k in kernels], axis=1))
    out, start = [], 0
    for kernel, bias, width in zip(kernels, biases, widths, strict=True):
        part = y[..., start : start + width]
        if bias is not None:
            part += bias.astype(x.dtype, copy=False).reshape(width)
        out.append(part.reshape(*x.shape[:-1], kernel.shape[1], kernel.shape[2]))
        start += width
    return out


def project(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """EinsumDense ``...f,fhd->...hd`` (+ bias [h, d]), as one BLAS matmul (np.einsum without optimize does not use BLAS)."""
    f, h, d = kernel.shape
    y = np.matmul(x, kernel.astype(x.dtype, copy=False).reshape(f, h * d)).reshape(*x.shape[:-1], h, d)
    if bias is not None:
        y += bias.astype(x.dtype, copy=False)
    return y


# --- shape-rule helpers -------------------------------------------------------------------------


def arg(inputs: Sequence[TensorType | None], index: int) -> TensorType | None:
    return inputs[index] if len(inputs) > index else None


def check_mask(mask: TensorType | None, expected: Sequence[int | None], what: str) -> None:
    """A mask input must be bool and have the expected shape (None = unknown, matches anything)."""
    if mask is None:
        return
    if mask.dtype != "bool":
        raise ShapeError(f"expected {what} of dtype bool. Received: dtype {mask.dtype}")
    if len(mask.shape) != len(expected) or any(
        a is not None and b is not None and a != b for a, b in zip(mask.shape, expected, strict=True)
    ):
        raise ShapeError(f"expected {what} of shape {list(expected)}. Received: shape {list(mask.shape)}")


def check_float(t: TensorType, what: str, like: TensorType) -> None:
    """A data input must be floating and of the query's dtype."""
    if not t.dtype.startswith(("float", "bfloat")) or t.dtype != like.dtype:
        raise ShapeError(f"expected a floating {what} of the query's dtype {like.dtype}. Received: dtype {t.dtype}")


def same_dim(a: int | None, b: int | None, message: str) -> None:
    if a is not None and b is not None and a != b:
        raise ShapeError(message)


def check_weight(weights: dict[str, tuple[int, ...]], role: str, expected: Sequence[int | None]) -> None:
    """A weight's shape against the expected one (None = not known from attributes or inputs)."""
    shape = weights.get(role)
    if shape is None:
        return
    if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape, strict=True)):
        layout = ["?" if e is None else e for e in expected]
        raise ShapeError(f"expected {role} of shape {layout}. Received: shape {list(shape)}")
