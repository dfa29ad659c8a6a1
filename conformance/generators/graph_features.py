"""Cases for graph features: several inputs and outputs, shared layers, nested models, unused outputs, masks.

``python conformance/generators/graph_features.py [OUT_ROOT]`` rewrites ``cases/graph_features/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import _suite as s
import numpy as np
from _suite import Case
from _suite import keras as K

L = K.layers
GRAPH = "spec/graph.md"


def case(cid: str, desc: str, build: Callable[[], Any], inputs: list[np.ndarray], **kw: Any) -> Case:
    return Case(cid, desc, build, inputs, sections=[GRAPH, *kw.pop("sections", [])], **kw)


def normals(cid: str, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    rng = s.rng_for(cid, "inputs")
    return [s.normal(rng, 2, *shp) for shp in shapes]


def padded_ids(cid: str, vocab: int = 12, steps: int = 6) -> np.ndarray:
    """Token ids with trailing padding zeros (lengths 4 and 2) and no zero inside the sequence."""
    ids = s.rng_for(cid, "ids").integers(1, vocab, size=(2, steps)).astype("int32")
    ids[0, 4:] = 0
    ids[1, 2:] = 0
    return ids


def masked_steps(cid: str, steps: int = 6, features: int = 3) -> np.ndarray:
    x = s.normal(s.rng_for(cid, "inputs"), 2, steps, features)
    x[0, 4:] = 0.0
    x[1, 1] = 0.0  # a masked step inside the sequence
    x[1, 5:] = 0.0
    return x


def two_in_two_out() -> Any:
    a, b = K.Input((4,), name="a"), K.Input((3,), name="b")
    h = L.Concatenate()([L.Dense(5, activation="relu")(a), L.Dense(5, activation="tanh")(b)])
    return K.Model([a, b], [L.Dense(2, name="head_one")(h), L.Dense(3, activation="softmax", name="head_two")(h)])


def shared_dense() -> Any:
    a, b = K.Input((4,), name="a"), K.Input((4,), name="b")
    shared = L.Dense(3, activation="tanh", name="shared")
    return K.Model([a, b], L.Subtract()([shared(a), shared(b)]))


def shared_thrice() -> Any:
    x = K.Input((4,), name="x")
    shared = L.Dense(4, activation="relu", name="shared")
    return K.Model(x, shared(shared(shared(x))))


def nested() -> Any:
    inner = K.Sequential([K.Input((4,)), L.Dense(5, activation="relu"), L.Dense(3)], name="inner")
    x = K.Input((4,), name="x")
    return K.Model(x, L.Activation("sigmoid")(inner(x)))


def nested_twice() -> Any:
    """A nested functional model called on two inputs: its weights are shared."""
    i = K.Input((3,))
    inner = K.Model(i, L.Dense(2, activation="tanh")(L.Dense(4)(i)), name="tower")
    a, b = K.Input((3,), name="a"), K.Input((3,), name="b")
    return K.Model([a, b], L.Concatenate()([inner(a), inner(b)]))


def sequential() -> Any:
    return K.Sequential([K.Input((6,), name="x"), L.Dense(4, activation="relu"), L.Dropout(0.5), L.Dense(2)], name="seq")


def unused_state() -> Any:
    x = K.Input((5, 3), name="x")
    seq, _h, _c = L.LSTM(4, return_sequences=True, return_state=True)(x)
    return K.Model(x, L.GlobalAveragePooling1D()(seq))


def intermediate_output() -> Any:
    x = K.Input((4,), name="x")
    h = L.Dense(5, activation="relu", name="hidden")(x)
    return K.Model(x, [L.Dense(2, name="logits")(h), h])


def reordered_outputs() -> Any:
    x = K.Input((4,), name="x")
    first = L.Dense(3, name="first")(x)
    second = L.Dense(2, name="second")(first)
    return K.Model(x, [second, first])


def fan_out() -> Any:
    x = K.Input((4,), name="x")
    return K.Model(x, L.Add()([L.Dense(3)(x), L.Dense(3)(x), L.Dense(3, use_bias=False)(x)]))


def masking_then(rnn: Callable[[], Any]) -> Callable[[], Any]:
    def build() -> Any:
        x = K.Input((6, 3), name="x")
        return K.Model(x, rnn()(L.Masking()(x)))

    return build


def masking_only() -> Any:
    x = K.Input((6, 3), name="x")
    return K.Model(x, L.Masking(mask_value=0.0)(x))


def embedding_then(head: Callable[[], Any]) -> Callable[[], Any]:
    def build() -> Any:
        ids = K.Input((6,), dtype="int32", name="ids")
        return K.Model(ids, head()(L.Embedding(12, 4, mask_zero=True)(ids)))

    return build


def embedding_attention() -> Any:
    ids = K.Input((6,), dtype="int32", name="ids")
    e = L.Embedding(12, 4, mask_zero=True)(ids)
    return K.Model(ids, L.Attention()([e, e]))


def embedding_mha() -> Any:
    ids = K.Input((6,), dtype="int32", name="ids")
    e = L.Embedding(12, 4, mask_zero=True)(ids)
    return K.Model(ids, L.MultiHeadAttention(2, 2)(e, e))


def mixed_inputs() -> Any:
    ids, feats = K.Input((6,), dtype="int32", name="ids"), K.Input((3,), name="features")
    e = L.GlobalAveragePooling1D()(L.Embedding(12, 3)(ids))
    return K.Model([ids, feats], L.Dense(2)(L.Concatenate()([e, feats])))


def masked_max_bundle(model: Any) -> Any:
    b = s.kif.GraphBuilder("masked_max")
    ids = b.input("ids", "int32", (None, 6))
    table = K.ops.convert_to_numpy(model.layers[1].weights[0])
    values, mask = b.add(
        "Embedding", ids, name="embedding", num_outputs=2, input_dim=12, output_dim=4, mask_zero=True, weights={"embeddings": table}
    )
    b.output(b.add("GlobalMaxPooling1D", [values, mask], name="pool"))
    return b.build()


def masked_max(model: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
    ids = inputs[0]
    values = K.ops.convert_to_numpy(model.layers[1].weights[0])[ids]
    return [np.where((ids != 0)[:, :, None], values, -np.inf).max(axis=1)]


def cases() -> Iterator[Case]:
    yield case("two-inputs-two-outputs", "Two inputs, two heads", two_in_two_out, normals("two-inputs-two-outputs", (4,), (3,)))
    yield case("shared-layer-two-inputs", "One Dense shared by two inputs", shared_dense, normals("shared-layer-two-inputs", (4,), (4,)))
    yield case(
        "per-tensor-digests",
        "Two inputs, two heads, in the per-tensor digest form (header_sha256 and a sha256 per tensor)",
        two_in_two_out,
        normals("per-tensor-digests", (4,), (3,)),
        digests="tensor",
        sections=["spec/integrity.md"],
    )
    yield case("shared-layer-chain", "One Dense applied three times in a chain", shared_thrice, normals("shared-layer-chain", (4,)))
    yield case("nested-sequential", "A Sequential model nested in a functional model", nested, normals("nested-sequential", (4,)))
    yield case(
        "nested-model-shared", "A nested functional model called on two inputs", nested_twice, normals("nested-model-shared", (3,), (3,))
    )
    yield case("sequential-model", "A Sequential model with dropout", sequential, normals("sequential-model", (6,)))
    yield case("unused-outputs", "LSTM states left unused", unused_state, normals("unused-outputs", (5, 3)))
    yield case(
        "intermediate-output", "A graph output that also feeds another layer", intermediate_output, normals("intermediate-output", (4,))
    )
    yield case(
        "outputs-reordered", "Graph outputs in a different order than computed", reordered_outputs, normals("outputs-reordered", (4,))
    )
    yield case("fan-out", "One tensor read by three layers", fan_out, normals("fan-out", (4,)))
    yield case(
        "mixed-dtype-inputs",
        "An int32 input and a float32 input",
        mixed_inputs,
        [padded_ids("mixed-dtype-inputs"), normals("mixed-dtype-inputs", (3,))[0]],
    )
    yield case("masking-values", "Masking zeroes masked steps", masking_only, [masked_steps("masking-values")])
    for kind in ("SimpleRNN", "LSTM", "GRU"):
        layer = getattr(L, kind)
        cid = f"masking-{kind.lower()}"
        yield case(cid, f"Masking feeding {kind}", masking_then(lambda f=layer: f(4)), [masked_steps(cid)])
        cid = f"masking-{kind.lower()}-sequences"
        yield case(
            cid, f"Masking feeding {kind} with sequences", masking_then(lambda f=layer: f(4, return_sequences=True)), [masked_steps(cid)]
        )
        cid = f"embedding-mask-{kind.lower()}"
        yield case(cid, f"Embedding mask feeding {kind}", embedding_then(lambda f=layer: f(3)), [padded_ids(cid)])
    cid = "masking-lstm-zero-output"
    yield case(
        cid,
        "Masking feeding LSTM with zero_output_for_mask",
        masking_then(lambda: L.LSTM(4, return_sequences=True, zero_output_for_mask=True)),
        [masked_steps(cid)],
    )
    cid = "masking-bidirectional"
    yield case(cid, "Masking feeding a Bidirectional GRU", masking_then(lambda: L.Bidirectional(L.GRU(3))), [masked_steps(cid)])
    cid = "masking-backwards"
    yield case(cid, "Masking feeding an LSTM run backwards", masking_then(lambda: L.LSTM(3, go_backwards=True)), [masked_steps(cid)])
    cid = "embedding-mask-globalaveragepooling1d"
    yield case(cid, "Embedding mask feeding GlobalAveragePooling1D", embedding_then(lambda: L.GlobalAveragePooling1D()), [padded_ids(cid)])
    # Keras's GlobalMaxPooling1D ignores masks; KIF's takes one explicitly. Built with the builder, NumPy oracle.
    cid = "embedding-mask-globalmaxpooling1d"
    yield case(
        cid,
        "An explicit mask input of GlobalMaxPooling1D",
        embedding_then(lambda: L.GlobalMaxPooling1D()),
        [padded_ids(cid)],
        bundle=masked_max_bundle,
        formula=masked_max,
    )
    yield case(
        "embedding-mask-attention", "Embedding mask feeding Attention", embedding_attention, [padded_ids("embedding-mask-attention")]
    )
    yield case(
        "embedding-mask-multiheadattention",
        "Embedding mask feeding MultiHeadAttention",
        embedding_mha,
        [padded_ids("embedding-mask-multiheadattention")],
    )


if __name__ == "__main__":
    s.main("graph_features", cases)
