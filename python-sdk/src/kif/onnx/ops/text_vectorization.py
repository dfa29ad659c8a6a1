"""TextVectorization is not exported: the standard ONNX domain has no op for TensorFlow's text steps.

StringNormalizer lowercases by locale (TensorFlow lowers ASCII only) and cannot strip punctuation; splitting on
whitespace runs, code points and n-gram joining exist only as contrib ops (com.microsoft Tokenizer), not in ONNX.
"""

from __future__ import annotations

from typing import Any

from kif.onnx._context import Ctx
from kif.onnx.ops import emits


@emits("TextVectorization")
def _text_vectorization(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    raise ctx.refuse(
        "ONNX has no standard op for TensorFlow's ASCII-only lowercasing, punctuation stripping, whitespace split "
        "and n-grams (StringNormalizer lowercases by locale; Tokenizer is a contrib op)"
    )
