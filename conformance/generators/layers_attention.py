"""Cases for attention layers: Attention, AdditiveAttention, MultiHeadAttention, GroupQueryAttention.

``python conformance/generators/layers_attention.py [OUT_ROOT]`` rewrites ``cases/layers_attention/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import _suite as s
from _suite import Case
from _suite import keras as K

L = K.layers
Q, V = (4, 6), (5, 6)


def model(factory: Callable[[], Any], shapes: list[tuple[int, ...]], call: Callable[[Any, list[Any]], Any]) -> Callable[[], Any]:
    def build() -> Any:
        ins = [K.Input(shp, name=f"x{i}") for i, shp in enumerate(shapes)]
        out = call(factory(), ins)
        return K.Model(ins, out)

    return build


def case(
    cid: str, desc: str, factory: Callable[[], Any], shapes: list[tuple[int, ...]], call: Callable[[Any, list[Any]], Any], **kw: Any
) -> Case:
    rng = s.rng_for(cid, "inputs")
    return Case(cid, desc, model(factory, shapes, call), [s.normal(rng, 2, *shp) for shp in shapes], **kw)


def as_list(layer: Any, ins: list[Any], **kw: Any) -> Any:
    return layer(ins, **kw)


def positional(layer: Any, ins: list[Any], **kw: Any) -> Any:
    return layer(*ins, **kw)


def cases() -> Iterator[Case]:
    for kind in ("Attention", "AdditiveAttention"):
        layer = getattr(L, kind)
        low = kind.lower()
        yield case(f"{low}-query-value", f"{kind} with query and value", lambda f=layer: f(), [Q, V], as_list)
        yield case(f"{low}-query-value-key", f"{kind} with a separate key", lambda f=layer: f(), [Q, V, V], as_list)
        yield case(
            f"{low}-self-causal",
            f"{kind} self-attention with a causal mask",
            lambda f=layer: f(),
            [Q],
            lambda lay, ins: lay([ins[0], ins[0]], use_causal_mask=True),
        )
        yield case(
            f"{low}-scores",
            f"{kind} returning attention scores",
            lambda f=layer: f(),
            [Q, V],
            lambda lay, ins: lay(ins, return_attention_scores=True),
        )
    yield case("attention-use-scale", "Attention with a learned scale", lambda: L.Attention(use_scale=True), [Q, V], as_list)
    yield case("attention-concat", "Attention with score_mode concat", lambda: L.Attention(score_mode="concat"), [Q, V], as_list)
    yield case(
        "additiveattention-no-scale", "AdditiveAttention without scale", lambda: L.AdditiveAttention(use_scale=False), [Q, V], as_list
    )
    mha = [
        ("self", "self-attention", lambda: L.MultiHeadAttention(2, 3), [Q], lambda lay, ins: lay(ins[0], ins[0])),
        ("cross", "cross-attention", lambda: L.MultiHeadAttention(2, 3), [Q, V], positional),
        ("key", "with a separate key", lambda: L.MultiHeadAttention(2, 3), [Q, V, V], positional),
        ("nobias", "without biases", lambda: L.MultiHeadAttention(2, 3, use_bias=False), [Q, V], positional),
        ("value-dim", "with value_dim 4", lambda: L.MultiHeadAttention(3, 2, value_dim=4), [Q, V], positional),
        ("output-shape", "with output_shape 5", lambda: L.MultiHeadAttention(2, 3, output_shape=(5,)), [Q, V], positional),
        (
            "causal",
            "with a causal mask",
            lambda: L.MultiHeadAttention(2, 3),
            [Q],
            lambda lay, ins: lay(ins[0], ins[0], use_causal_mask=True),
        ),
        (
            "scores",
            "returning scores",
            lambda: L.MultiHeadAttention(2, 3),
            [Q, V],
            lambda lay, ins: lay(ins[0], ins[1], return_attention_scores=True),
        ),
        (
            "attention-axes",
            "over axis 2 of rank-4 inputs",
            lambda: L.MultiHeadAttention(2, 3, attention_axes=(2,)),
            [(3, 4, 6), (3, 5, 6)],
            positional,
        ),
    ]
    for name, desc, factory, shapes, call in mha:
        yield case(f"multiheadattention-{name}", f"MultiHeadAttention {desc}", factory, shapes, call)
    gqa = [
        ("self", "self-attention", lambda: L.GroupQueryAttention(3, 4, 2), [Q], lambda lay, ins: lay(ins[0], ins[0])),
        ("cross", "cross-attention", lambda: L.GroupQueryAttention(3, 4, 2), [Q, V], positional),
        ("key", "with a separate key", lambda: L.GroupQueryAttention(3, 2, 1), [Q, V, V], positional),
        ("nobias", "without biases", lambda: L.GroupQueryAttention(3, 4, 4, use_bias=False), [Q, V], positional),
        (
            "causal",
            "with a causal mask",
            lambda: L.GroupQueryAttention(3, 4, 2),
            [Q],
            lambda lay, ins: lay(ins[0], ins[0], use_causal_mask=True),
        ),
        (
            "scores",
            "returning scores",
            lambda: L.GroupQueryAttention(3, 4, 2),
            [Q, V],
            lambda lay, ins: lay(ins[0], ins[1], return_attention_scores=True),
        ),
    ]
    for name, desc, factory, shapes, call in gqa:
        yield case(f"groupqueryattention-{name}", f"GroupQueryAttention {desc}", factory, shapes, call)


if __name__ == "__main__":
    s.main("layers_attention", cases)
