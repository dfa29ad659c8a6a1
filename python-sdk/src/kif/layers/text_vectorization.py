"""TextVectorization (spec/layers/TextVectorization.md): strings -> standardize -> split -> ngrams -> vocabulary ids,
then int sequences (0-padded) or one multi_hot / count / tf_idf vector per sequence.

Index layout (Keras's StringLookup inside TextVectorization): int mode reserves 0 for the mask token "" and 1 for
OOV, the vocabulary starts at 2; the other modes have no mask, OOV is 0 and the vocabulary starts at 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif import limits
from kif.errors import KifError
from kif.layers._common import only
from kif.layers._text_standardize import ngrams, split, standardize
from kif.layers.registry import ShapeError, TensorType, register_layer

MAX_TOKEN_BYTES = 4096  # spec/limits.md: a vocabulary entry


def offset(attrs: dict[str, Any]) -> int:
    """The index of the first vocabulary token (the reserved tokens come first)."""
    return 2 if attrs["output_mode"] == "int" else 1


def width(attrs: dict[str, Any]) -> int:
    """multi_hot / count / tf_idf: the length of each output vector."""
    if attrs["pad_to_max_tokens"] and attrs["max_tokens"] is not None:
        return int(attrs["max_tokens"])
    return offset(attrs) + len(attrs["vocabulary"])


def _check_vocabulary(attrs: dict[str, Any]) -> None:
    vocab = attrs["vocabulary"]
    if len(set(vocab)) != len(vocab):
        seen: set[str] = set()
        repeat = next(t for t in vocab if t in seen or seen.add(t))  # type: ignore[func-returns-value]
        raise ShapeError(f"expected distinct vocabulary entries. Received: {repeat!r} twice")
    reserved = {"[UNK]", ""} if attrs["output_mode"] == "int" else {"[UNK]"}
    clash = next((t for t in vocab if t in reserved), None)
    if clash is not None:
        raise ShapeError(f"expected the vocabulary without the reserved tokens. Received: {clash!r} in it")
    longest = max((len(t.encode("utf-8", "surrogatepass")) for t in vocab), default=0)
    if longest > MAX_TOKEN_BYTES:
        raise ShapeError(f"expected vocabulary entries of at most {MAX_TOKEN_BYTES} UTF-8 bytes. Received: one of {longest}")
    used = offset(attrs) + len(vocab)
    if attrs["max_tokens"] is not None and used > attrs["max_tokens"]:
        raise ShapeError(f"expected at most max_tokens={attrs['max_tokens']} indices. Received: {used} (reserved tokens included)")


def _sequence_shape(attrs: dict[str, Any], x: TensorType) -> tuple[int | None, ...]:
    """The shape of the token sequences before lookup: [batch, tokens] with split, else the input's."""
    if attrs["split"] is None:
        if len(x.shape) < 1:
            raise ShapeError("expected an input of rank >= 1 (the last axis holds the tokens). Received: a scalar")
        return tuple(x.shape)
    if (len(x.shape) == 2 and x.shape[1] not in (1, None)) or len(x.shape) not in (1, 2):
        raise ShapeError(f"expected strings [batch] or [batch, 1] to split. Received: {list(x.shape)}")
    return (x.shape[0], None)


@register_layer("TextVectorization")
class TextVectorization:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if x.dtype != "string":
            raise ShapeError(f"expected a string input. Received: {x.dtype}")
        _check_vocabulary(attrs)
        if attrs["output_mode"] != "int" and attrs["output_sequence_length"] is not None:
            raise ShapeError("expected output_sequence_length only with output_mode int")
        if attrs["output_mode"] == "tf_idf" and tuple(weights.get("idf_weights", ())) != (width(attrs),):
            raise ShapeError(f"expected idf_weights of shape [{width(attrs)}]. Received: {list(weights.get('idf_weights', ()))}")
        seq = _sequence_shape(attrs, x)
        if attrs["output_mode"] == "int":
            last = seq[-1] if attrs["split"] is None and not attrs["ngrams"] else None
            return [TensorType("int64", (*seq[:-1], attrs["output_sequence_length"] or last))]
        return [TensorType("float32", (*seq[:-1], width(attrs)))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        rows = _tokens(attrs, x)
        ids = [_lookup(attrs, row) for row in rows]
        lead = x.shape[:1] if attrs["split"] is not None else x.shape[:-1]
        if attrs["output_mode"] == "int":
            length = attrs["output_sequence_length"] or max((len(r) for r in ids), default=0)
            out = np.zeros((len(ids), length), np.int64)
            for i, row in enumerate(ids):
                out[i, : min(len(row), length)] = row[:length]
            return [out.reshape(*lead, length)]
        size = width(attrs)
        out = np.zeros((len(ids), size), np.float32)
        for i, row in enumerate(ids):
            out[i] = np.bincount(np.asarray(row, np.int64), minlength=size)[:size]
        if attrs["output_mode"] == "multi_hot":
            out = np.minimum(out, 1.0)
        elif attrs["output_mode"] == "tf_idf":
            out = out * np.asarray(weights["idf_weights"], np.float32)
        return [out.reshape(*lead, size)]


def _tokens(attrs: dict[str, Any], x: np.ndarray) -> list[list[str]]:
    """One token list per sequence (after ngrams), bounded by the tensor limits."""
    if attrs["split"] is not None:
        texts = [standardize(str(t), attrs["standardize"]) for t in x.reshape(-1)]
        rows = [split(t, attrs["split"]) for t in texts]
    else:
        flat = [standardize(str(t), attrs["standardize"]) for t in x.reshape(-1)]
        count = x.shape[-1]
        rows = [flat[i : i + count] for i in range(0, len(flat), count)] if count else [[] for _ in range(int(np.prod(x.shape[:-1])))]
    widths = attrs["ngrams"]
    if widths:
        bound = limits.current().max_tensor_elements
        pieces = sum(max(len(r) - w + 1, 0) * w for r in rows for w in widths)
        if pieces > bound:
            raise KifError(
                f"TextVectorization: the n-grams would join {pieces} tokens; max_tensor_elements allows {bound}", code="limit-exceeded"
            )
        rows = [ngrams(r, widths) for r in rows]
    return rows


def _lookup(attrs: dict[str, Any], tokens: list[str]) -> list[int]:
    index = _index(attrs)
    oov = 1 if attrs["output_mode"] == "int" else 0
    return [index.get(t, oov) for t in tokens]


_CACHE: dict[int, tuple[list[str], dict[str, int]]] = {}


def _index(attrs: dict[str, Any]) -> dict[str, int]:
    vocab = attrs["vocabulary"]
    key = id(vocab)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] is vocab:
        return cached[1]
    start = offset(attrs)
    index = {token: start + i for i, token in enumerate(vocab)}
    if attrs["output_mode"] == "int":
        index[""] = 0  # the mask token (only an unsplit empty string can be one)
    _CACHE.clear()
    _CACHE[key] = (vocab, index)
    return index
