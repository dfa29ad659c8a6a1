"""StringLookup (both directions) and string Hashing as ai.onnx.ml LabelEncoder tables, then the integer encodings.

Forward: one LabelEncoder maps each vocabulary string to its index (the mask token to 0 in int mode, to -1, counted
nowhere, in the others), every other string to the OOV index. Inverted: the indices (cast to int64) go through a
LabelEncoder to the tokens, the mask index to the mask token, every other index to the OOV token.

ONNX has no string hashing: where TF hashes a string (StringLookup with num_oov_indices > 1, Hashing) the layer is
refused. (Tabulating the hash of each string a graph can produce — when an inverted StringLookup makes them — would
pass such graphs without ONNX computing the layer at all, and overstate what an ONNX export of a real text model
can do; it is deliberately not done.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.onnx.ops.encoding import encode, int64

_NO_HASH = "ONNX has no string hashing (TF's FarmHash Fingerprint64 / SipHash-2-4)"


def utf8(ctx: Ctx, values: list[str]) -> list[str]:
    """``values`` unchanged; refused when one is not Unicode text (a lone surrogate has no UTF-8 form)."""
    for i, value in enumerate(values):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ctx.refuse(f"string {i} of its tables holds a lone surrogate; ONNX strings are UTF-8") from None
    return values


def _strings_to_ids(ctx: Ctx, x: str, table: dict[str, int], default: int) -> str:
    keys = utf8(ctx, list(table))
    return str(ctx.node("LabelEncoder", [x], domain="ai.onnx.ml", keys_strings=keys, values_int64s=[table[k] for k in keys],
                        default_int64=default))  # fmt: skip


def _encoded(ctx: Ctx, ids: str, x: str, mode: str, depth: int, out: np.dtype, idf: np.ndarray | None = None) -> str:
    if mode == "int":
        return ids
    shape = ctx.shape(x)
    y = encode(ctx, ids, "count" if mode == "tf_idf" else mode, depth, len(shape), shape[-1] if shape else None)
    if idf is not None:
        return str(ctx.node("Mul", [y, ctx.const(idf.astype(np.float32), hint="idf_weights")]))
    return y if out == np.float32 else str(ctx.node("Cast", [y], to=ONNX_DTYPES[out.name]))


@emits("StringLookup")
def string_lookup(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    from kif.layers import string_lookup as sl
    from kif.layers._lookup import lookup_strings

    x = inputs[0]
    assert x is not None
    a, tokens, mask = attrs, list(attrs["vocabulary"]), attrs["mask_token"]
    n, mode = int(a["num_oov_indices"]), a["output_mode"]
    if a["invert"]:
        start = (1 if mask is not None else 0) + n
        table = {start + i: t for i, t in enumerate(tokens)} | ({0: mask} if mask is not None else {})
        keys = sorted(table)
        out = ctx.node("LabelEncoder", [int64(ctx, x)], domain="ai.onnx.ml", keys_int64s=keys,
                       values_strings=utf8(ctx, [table[k] for k in keys]), default_string=utf8(ctx, [a["oov_token"]])[0])  # fmt: skip
        return [str(out)]
    if n == 0:
        raise ctx.refuse("num_oov_indices=0 makes an unknown token an error, and ONNX cannot raise")
    oov0 = 1 if mask is not None and mode == "int" else 0
    known = list(dict.fromkeys([*tokens, *([mask] if mask is not None else [])]))
    if n > 1:  # the OOV bucket is a hash of the string
        raise ctx.refuse(f"num_oov_indices={n} puts an unknown token in a hashed bucket; {_NO_HASH}")
    index = lookup_strings(np.asarray(known, dtype=object), tokens, mode=mode, num_oov=n, mask_token=mask, salt=a["salt"])
    table = {k: (-1 if mode != "int" and k == mask else int(v)) for k, v in zip(known, index.tolist(), strict=True)}
    ids = _strings_to_ids(ctx, x, table, oov0)
    idf = ctx.weight("idf_weights", np.dtype(np.float32)) if mode == "tf_idf" else None
    return [_encoded(ctx, ids, x, mode, sl.depth(a), np.dtype(np.int64), idf)]


@emits("Hashing")
def hashing(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    if ctx.type_of(x).dtype != "string":
        raise ctx.refuse(f"{_NO_HASH}, and no integer-to-decimal-text conversion to hash a number as TF does")
    raise ctx.refuse(_NO_HASH)
