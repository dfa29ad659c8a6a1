"""Build a small example bundle with the builder API: a classifier for 4 features.

    python python-sdk/examples/build_example.py example.kif

The bundle carries typed I/O metadata, a label map and a self-test computed with
plain NumPy, so `kif validate --level numeric example.kif` checks the runtime.
"""

from __future__ import annotations

import sys

import numpy as np

import kif


def build() -> kif.Model:
    rng = np.random.default_rng(7)
    k1, b1 = rng.normal(0, 0.5, (4, 16)).astype("float32"), rng.normal(0, 0.1, 16).astype("float32")
    k2, b2 = rng.normal(0, 0.5, (16, 3)).astype("float32"), rng.normal(0, 0.1, 3).astype("float32")
    b = kif.GraphBuilder("iris_mlp")
    x = b.input(
        "features",
        "float32",
        (None, 4),
        meta={"layout": "NC", "normalization": {"mean": [5.8, 3.0, 3.8, 1.2], "std": [0.8, 0.4, 1.8, 0.8]}},
    )
    h = b.add("Dense", x, name="hidden", units=16, activation="relu", weights={"kernel": k1, "bias": b1})
    y = b.add("Dense", h, name="probabilities", units=3, activation="softmax", weights={"kernel": k2, "bias": b2})
    b.output(y, meta={"labels": ["setosa", "versicolor", "virginica"]})
    sample = rng.normal(size=(5, 4)).astype("float32")
    logits = np.maximum(sample @ k1 + b1, 0) @ k2 + b2  # independent NumPy formula for the golden output
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return b.build(
        description="A two-layer classifier built with the KIF builder API.",
        license="Apache-2.0",
        preprocessing="Standardise each feature with the mean and std given in the input metadata.",
        metadata={"example": "true"},
        self_test=kif.SelfTest({"features": sample}, {"probabilities": probs.astype("float32")}, rtol=1e-5, atol=1e-6),
    )


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "example.kif"
    kif.save(build(), target)
    print(f"wrote {target}")
