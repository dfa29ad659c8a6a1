"""TextVectorization, where ONNX can match TensorFlow exactly.

ONNX cannot run TF's text steps on arbitrary strings: StringNormalizer lowercases by an environment-dependent locale
(ONNX Runtime's default en_US lowers "É" too; TF lowers ASCII A-Z only), no op replaces TF's 32 ASCII punctuation
characters (RegexFullMatch only matches), ONNX Runtime's StringSplit without a delimiter splits on " " only (TF on
the six ASCII spaces " \\t\\n\\v\\f\\r"), and no op splits into code points. So the layer is exported only when
standardize, split and ngrams are all None: one LabelEncoder from token to index, then the padding (int) or the
encoding over the last axis, as a lookup with standard ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.onnx._context import Ctx
from kif.onnx.ops import emits
from kif.onnx.ops.encoding import encode
from kif.onnx.ops.strings import utf8

_WHY = (
    "ONNX cannot reproduce TF's text steps on arbitrary strings: StringNormalizer lowercases by locale (TF: ASCII A-Z "
    "only), no op strips TF's 32 ASCII punctuation characters, ONNX Runtime's StringSplit splits on ' ' only (TF: "
    "the six ASCII spaces), no op splits into code points; exported only with standardize, split and ngrams all None"
)


@emits("TextVectorization")
def _text_vectorization(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    if attrs["standardize"] is None and attrs["split"] is None and not attrs["ngrams"]:
        return [_per_token(ctx, attrs, x)]
    raise ctx.refuse(_WHY)


def _per_token(ctx: Ctx, attrs: dict[str, Any], x: str) -> str:
    """No text steps: each string of the last axis is one token."""
    from kif.layers.text_vectorization import _index, width

    index, mode = _index(attrs), attrs["output_mode"]
    oov = 1 if mode == "int" else 0
    keys = utf8(ctx, list(index))
    values = [index.get(k, oov) for k in keys]
    ids = ctx.node("LabelEncoder", [x], domain="ai.onnx.ml", keys_strings=keys, values_int64s=values, default_int64=oov)
    rank = len(ctx.shape(x))
    if mode == "int":
        length = attrs["output_sequence_length"]
        if length is None:
            return str(ids)
        cut = ctx.node("Slice", [ids, ctx.ints([0]), ctx.ints([length]), ctx.ints([-1])])
        short = ctx.node("Sub", [ctx.ints([length]), ctx.node("Shape", [cut], start=-1)])
        pads = ctx.node("Concat", [ctx.ints([0] * (2 * rank - 1)), short], axis=0)
        return str(ctx.node("Pad", [cut, pads, ctx.const(np.zeros((), np.int64))]))
    y = encode(ctx, ids, "count" if mode == "tf_idf" else mode, width(attrs), max(rank, 2), None)  # a bincount per row
    if mode == "tf_idf":
        y = ctx.node("Mul", [y, ctx.const(ctx.weight("idf_weights", np.dtype(np.float32)), hint="idf_weights")])
    return str(y)
