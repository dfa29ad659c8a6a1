"""TextVectorization, where ONNX can match TensorFlow exactly.

ONNX cannot run TF's text steps on arbitrary strings: StringNormalizer lowercases by an environment-dependent locale
(ONNX Runtime's default en_US lowers "É" too; TF lowers ASCII A-Z only), no op replaces TF's 32 ASCII punctuation
characters (RegexFullMatch only matches), ONNX Runtime's StringSplit without a delimiter splits on " " only (TF on
the six ASCII spaces " \\t\\n\\v\\f\\r"), and no op splits into code points. So the layer is exported when

- standardize, split and ngrams are all None: one LabelEncoder from token to index, then the padding (int) or the
  encoding over the last axis, as a lookup with standard ops; or
- its input comes from an inverted StringLookup (a known, finite set of strings): the reference kernel computes the
  output row of each string at export time and the graph gathers rows from that table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.onnx.ops.encoding import encode
from kif.onnx.ops.strings import utf8

TABLE_ELEMENTS = 1 << 24  # a tabulated TextVectorization (64 MiB of float32) at most
_WHY = (
    "ONNX cannot reproduce TF's text steps on arbitrary strings: StringNormalizer lowercases by locale (TF: ASCII A-Z "
    "only), no op strips TF's 32 ASCII punctuation characters, ONNX Runtime's StringSplit splits on ' ' only (TF: "
    "the six ASCII spaces), no op splits into code points; exported only with standardize, split and ngrams all "
    "None, or when the input comes from an inverted StringLookup (a known, finite set of strings)"
)


@emits("TextVectorization")
def _text_vectorization(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    plain = attrs["standardize"] is None and attrs["split"] is None and not attrs["ngrams"]
    domain = ctx.domains.get(x)
    if attrs["split"] is None and not attrs["ngrams"] and (plain or domain is not None):
        return [_per_token(ctx, attrs, x, domain)]
    if attrs["split"] is not None and domain is not None:
        return [_tabulated(ctx, attrs, x, domain)]
    raise ctx.refuse(_WHY)


def _per_token(ctx: Ctx, attrs: dict[str, Any], x: str, domain: tuple[str, ...] | None) -> str:
    """split=None: each string of the last axis is one token (standardized first when its values are known)."""
    from kif.layers._text_standardize import standardize
    from kif.layers.text_vectorization import _index, width

    index, mode = _index(attrs), attrs["output_mode"]
    oov = 1 if mode == "int" else 0
    keys = utf8(ctx, list(index) if domain is None else list(domain))
    values = [index.get(k if domain is None else standardize(k, attrs["standardize"]), oov) for k in keys]
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


def _tabulated(ctx: Ctx, attrs: dict[str, Any], x: str, domain: tuple[str, ...]) -> str:
    """split set, strings known: row d of a table is the kernel's output for domain[d]; int rows without
    output_sequence_length are cut to the longest row of the batch."""
    from kif.layers.text_vectorization import TextVectorization, width

    if attrs["output_mode"] != "int" and len(domain) * width(attrs) > TABLE_ELEMENTS:
        raise ctx.refuse(f"the table of {len(domain)} strings x {width(attrs)} would exceed {TABLE_ELEMENTS} elements; {_WHY}")
    weights = {"idf_weights": ctx.weight("idf_weights", np.dtype(np.float32))} if attrs["output_mode"] == "tf_idf" else {}
    rows = [TextVectorization.run(attrs, [np.asarray([d], dtype=object)], weights)[0][0] for d in domain]
    lengths = np.asarray([len(r) for r in rows], np.int64)
    if len(rows) * int(lengths.max(initial=1)) > TABLE_ELEMENTS:
        raise ctx.refuse(f"the table of {len(rows)} token rows would exceed {TABLE_ELEMENTS} elements; {_WHY}")
    table = np.zeros((len(rows), max(int(lengths.max(initial=0)), 1)), rows[0].dtype)
    for i, row in enumerate(rows):
        table[i, : len(row)] = row
    flat = ctx.node("Reshape", [x, ctx.ints([-1])])
    which = ctx.node("LabelEncoder", [flat], domain="ai.onnx.ml", keys_strings=list(domain),
                     values_int64s=list(range(len(domain))), default_int64=0)  # fmt: skip
    out = ctx.node("Gather", [ctx.const(table, hint="text_table"), which], axis=0)
    if attrs["output_mode"] != "int" or attrs["output_sequence_length"] is not None:
        return str(out)
    longest = ctx.node("ReduceMax", [ctx.node("Gather", [ctx.const(lengths, hint="lengths"), which], axis=0)], keepdims=1)
    longest = ctx.node("Max", [ctx.node("Cast", [longest], to=ONNX_DTYPES["int64"]), ctx.ints([0])])
    return str(ctx.node("Slice", [out, ctx.ints([0]), longest, ctx.ints([1])]))
