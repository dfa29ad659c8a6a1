"""Cases for the encoding preprocessing layers: CategoryEncoding, Discretization, IntegerLookup.

``python conformance/generators/preprocessing_encoding.py [OUT_ROOT]`` rewrites ``cases/preprocessing_encoding/``.

Keras 3 on torch agrees with TensorFlow on every input the CategoryEncoding and Discretization cases hold (ids in
range); the out-of-range rule, where backends differ, is tested in ``python-sdk/tests/layers/``. Keras 3 builds
IntegerLookup on tf.lookup whatever the backend, so those cases take TensorFlow's outputs and the layer's attributes
(as the converter reads them) from the TF-written fixtures of ``python-sdk/tests/fixtures/preprocessing/``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _suite as s
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers
FIXTURES = Path(__file__).resolve().parents[2] / "python-sdk" / "tests" / "fixtures" / "preprocessing"


def _ids(case_id: str, high: int, *shape: int, dtype: str = "int64") -> list:
    return [s.rng_for(case_id, "ids").integers(0, high, size=(2, *shape)).astype(dtype)]


def _category_encoding() -> Iterator[Case]:
    yield layer_case("category-encoding-multi-hot", "CategoryEncoding multi_hot of int64 ids", lambda: L.CategoryEncoding(6),
                     (5,), dtype="int64", inputs=_ids("ce-mh", 6, 5))  # fmt: skip
    yield layer_case("category-encoding-count", "CategoryEncoding count (repeated ids add up)",
                     lambda: L.CategoryEncoding(4, output_mode="count"), (7,), dtype="int64", inputs=_ids("ce-c", 4, 7))  # fmt: skip
    yield layer_case("category-encoding-one-hot", "CategoryEncoding one_hot of [batch, 1] ids (the last axis replaced)",
                     lambda: L.CategoryEncoding(5, output_mode="one_hot"), (1,), dtype="int64", inputs=_ids("ce-oh", 5, 1))  # fmt: skip
    yield layer_case("category-encoding-one-hot-seq", "CategoryEncoding one_hot of [batch, L] int32 ids (a new axis)",
                     lambda: L.CategoryEncoding(5, output_mode="one_hot"), (3,), dtype="int32",
                     inputs=_ids("ce-ohs", 5, 3, dtype="int32"), level="extended")  # fmt: skip


def _values(case_id: str, *shape: int) -> list:
    x = s.rng_for(case_id, "x").normal(size=(2, *shape)).astype("float32")
    x.reshape(-1)[:4] = [-1.0, 0.0, 0.5, 2.0][: x.size]  # values on the boundaries: buckets are left-closed
    return [x]


def _discretization() -> Iterator[Case]:
    b = [-1.0, 0.0, 0.5, 2.0]
    yield layer_case("discretization-int", "Discretization int ids (Keras 3: int32), values on the boundaries",
                     lambda: L.Discretization(bin_boundaries=b), (6,), inputs=_values("disc-int", 6))  # fmt: skip
    yield layer_case("discretization-one-hot", "Discretization one_hot of [batch, 1] values",
                     lambda: L.Discretization(bin_boundaries=b, output_mode="one_hot"), (1,), inputs=_values("disc-oh", 1))  # fmt: skip
    yield layer_case("discretization-multi-hot", "Discretization multi_hot",
                     lambda: L.Discretization(bin_boundaries=b, output_mode="multi_hot"), (5,), inputs=_values("disc-mh", 5),
                     level="extended")  # fmt: skip
    yield layer_case("discretization-count", "Discretization count",
                     lambda: L.Discretization(bin_boundaries=b, output_mode="count"), (5,), inputs=_values("disc-c", 5),
                     level="extended")  # fmt: skip


# fixture -> (case id, description, level)
LOOKUPS = {
    "default": ("integer-lookup-int", "IntegerLookup int indices, one OOV slot (TensorFlow golden)", "core"),
    "mask": ("integer-lookup-mask", "IntegerLookup with mask_token 0 in int mode (TensorFlow golden)", "core"),
    "floormod": ("integer-lookup-floormod", "IntegerLookup with 3 OOV slots: floormod of the token, negatives too", "core"),
    "one_hot": ("integer-lookup-one-hot", "IntegerLookup one_hot (Keras 3: int64) (TensorFlow golden)", "extended"),
    "multi_hot_mask": ("integer-lookup-multi-hot-mask", "IntegerLookup multi_hot drops the mask token", "extended"),
    "count": ("integer-lookup-count", "IntegerLookup count (TensorFlow golden)", "extended"),
    "tf_idf": ("integer-lookup-tf-idf", "IntegerLookup tf_idf, the OOV slot weighted by the mean idf", "core"),
    "invert_mask": ("integer-lookup-invert-mask", "IntegerLookup invert with a mask: out-of-range indices give oov_token", "core"),
    "adapted": ("integer-lookup-adapted-tf-idf", "IntegerLookup adapted in TF: vocabulary and idf weights as learned", "extended"),
}


def _lookup_bundle(attrs: dict[str, Any], weights: dict[str, Any]) -> Any:
    def make(model: Any) -> Any:
        b = s.kif.GraphBuilder(model.name)
        x = b.input(model.inputs[0].name, "int64", tuple(model.inputs[0].shape))
        b.output(b.add("IntegerLookup", x, name="integer_lookup", weights=weights, **attrs))
        return b.build()

    return make


def _integer_lookup() -> Iterator[Case]:
    import numpy as np
    from kif.keras import convert

    for name, (case_id, description, level) in LOOKUPS.items():
        with tempfile.TemporaryDirectory() as tmp:
            model = s.kif.load(convert(FIXTURES / f"integer_lookup_{name}.keras", Path(tmp) / "m.kif"))
            layer = next(la for la in model.layers if la.type == "IntegerLookup")
            attrs, weights = dict(layer.attributes), {r: np.array(model.weights[t]) for r, t in layer.weights.items()}
        data = np.load(FIXTURES / f"integer_lookup_{name}.npz")
        x, y = data["x0"], data["y0"]
        yield layer_case(
            case_id, description, lambda: L.Identity(), tuple(x.shape[1:]), dtype="int64", inputs=[x], level=level,
            formula=lambda model, xs, y=y: [y], bundle=_lookup_bundle(attrs, weights),
        )  # fmt: skip


EXTRA = FIXTURES.parent / "tf_encoding_extra"
SALTED = {  # layer of integer_lookup_salt.keras -> (case id, description)
    1: ("integer-lookup-farmhash-salt-mask", "IntegerLookup farmhash OOV slots with a salt pair (SipHash-2-4), mask 0"),
    2: ("integer-lookup-farmhash-salt-count", "IntegerLookup count, salted farmhash OOV slots, negative and large tokens"),
}


def _salted() -> Iterator[Case]:
    """TensorFlow's outputs of the salted layers (tf_encoding_extra/generate.py, Keras 3 on TF, by hand)."""
    import numpy as np
    from kif.keras import convert

    with tempfile.TemporaryDirectory() as tmp:
        model = s.kif.load(convert(EXTRA / "integer_lookup_salt.keras", Path(tmp) / "m.kif"))
    data = np.load(EXTRA / "integer_lookup_salt.npz")
    x = data["x0"]
    for index, (case_id, description) in SALTED.items():
        attrs, y = dict(model.layers[index].attributes), data[f"y{index}"]
        yield layer_case(
            case_id, description + " (TensorFlow golden)", lambda: L.Identity(), tuple(x.shape[1:]), dtype="int64",
            inputs=[x], level="extended", formula=lambda model, xs, y=y: [y], bundle=_lookup_bundle(attrs, {}),
        )  # fmt: skip


def _count_weights() -> Iterator[Case]:
    """CategoryEncoding(count) with count_weights, TensorFlow's outputs (tf_encoding_extra/generate.py, by hand)."""
    import numpy as np

    data = np.load(EXTRA / "count_weights.npz")

    def build() -> Any:
        ids, weights = K.Input((4,), dtype="int64", name="ids"), K.Input((4,), dtype="float32", name="weights")
        return K.Model([ids, weights], L.CategoryEncoding(num_tokens=6, output_mode="count")(ids, count_weights=weights))

    y = data["y0"]
    yield Case(
        "category-encoding-count-weights", "CategoryEncoding count weighted by count_weights, a second input (TensorFlow golden)",
        build, [data["x0"], data["x1"]], level="extended", formula=lambda model, xs: [y],
    )  # fmt: skip


def cases() -> Iterator[Case]:
    yield from _category_encoding()
    yield from _discretization()
    yield from _integer_lookup()
    yield from _salted()
    yield from _count_weights()


if __name__ == "__main__":
    s.main("preprocessing_encoding", cases)
