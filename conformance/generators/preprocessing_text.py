"""Cases for StringLookup, Hashing and HashedCrossing, with TensorFlow's outputs as the goldens.

``python conformance/generators/preprocessing_text.py [OUT_ROOT]`` rewrites ``cases/preprocessing_text/``.

Keras runs these layers on TensorFlow ops under every backend, and TensorFlow is not a generator dependency, so each
golden is what Keras 3 on TensorFlow 2.21 computed: ``python-sdk/tests/fixtures/text/chains.{json,npz}`` (its
``chains.py``, run by hand). A case's inputs and outputs are numeric (a safetensors file holds no strings): strings
arise inside the graph from an inverted StringLookup. ``preprocessing_text_raw.py`` writes the raw-string cases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _suite as s
import numpy as np
from _suite import Case
from _suite import keras as K

FIXTURES = Path(__file__).resolve().parents[2] / "python-sdk" / "tests" / "fixtures" / "text"


def _bundle(case_id: str, spec: dict[str, Any], arrays: Any) -> Any:
    def make(model: Any) -> Any:
        b = s.kif.GraphBuilder(case_id.replace("-", "_"))
        tensors = {}
        for name in spec["inputs"]:
            value = arrays[f"{case_id}/{name}"]
            tensors[name] = b.input(name, str(value.dtype), (None, *value.shape[1:]))
        for index, layer in enumerate(spec["layers"]):
            weights = {role: np.asarray(v, dtype=np.float32) for role, v in layer.get("weights", {}).items()}
            ins = [tensors[t] for t in layer["inputs"]]
            name = f"{layer['type'].lower()}_{index}"
            tensors[layer["output"]] = b.add(
                layer["type"], ins if len(ins) > 1 else ins[0], name=name, weights=weights, **layer["attributes"]
            )
        b.output(tensors[spec["output"]])
        return b.build()

    return make


def _placeholder(shapes: list[tuple[int, ...]], dtypes: list[str]) -> Any:
    def build() -> Any:  # the bundle is built from the fixture; write_case only needs a model to seed
        ins = [K.Input(shape=sh, dtype=dt) for sh, dt in zip(shapes, dtypes, strict=True)]
        return K.Model(ins, ins[0])

    return build


def cases() -> Iterator[Case]:
    doc = json.loads((FIXTURES / "chains.json").read_text(encoding="utf-8"))["cases"]
    arrays = np.load(FIXTURES / "chains.npz")
    for case_id, spec in doc.items():
        inputs = [arrays[f"{case_id}/{n}"] for n in spec["inputs"]]
        golden = arrays[f"{case_id}/{spec['output']}"]
        yield Case(
            case_id, f"{spec['description']} (TF golden)",
            _placeholder([tuple(x.shape[1:]) for x in inputs], [str(x.dtype) for x in inputs]), inputs,
            level=spec["level"], formula=lambda model, xs, y=golden: [y], bundle=_bundle(case_id, spec, arrays),
            weights=lambda model, rng: None,
        )  # fmt: skip


if __name__ == "__main__":
    s.main("preprocessing_text", cases)
