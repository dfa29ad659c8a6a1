"""Cases for the encoding preprocessing layers: CategoryEncoding, Discretization, IntegerLookup.

``python conformance/generators/preprocessing_encoding.py [OUT_ROOT]`` rewrites ``cases/preprocessing_encoding/``.

Keras 3 on torch agrees with TensorFlow on every input these cases hold (ids in range); the out-of-range rule,
where backends differ, is tested in ``python-sdk/tests/layers/`` against the TF-written fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator

import _suite as s
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers


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


def cases() -> Iterator[Case]:
    yield from _category_encoding()
    yield from _discretization()


if __name__ == "__main__":
    s.main("preprocessing_encoding", cases)
