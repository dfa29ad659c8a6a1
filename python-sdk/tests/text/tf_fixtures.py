"""The TF 2.21 fixtures of tests/fixtures/text (written by its generate.py by hand) and a one-layer runner for them."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import kif
from kif.shapes import compatible, infer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "text"
CASES: dict[str, dict[str, Any]] = json.loads((FIXTURES / "cases.json").read_text(encoding="utf-8"))["cases"]
ARRAYS = np.load(FIXTURES / "cases.npz")


def names(kind: str) -> list[str]:
    return sorted(n for n, c in CASES.items() if c["class"] == kind)


def inputs_of(name: str) -> list[np.ndarray]:
    keys = CASES[name]["input"]
    return [ARRAYS[k] for k in (keys if isinstance(keys, list) else [keys])]


def expected(name: str) -> np.ndarray:
    return ARRAYS[CASES[name]["output"]]


def _dtype(array: np.ndarray) -> str:
    return "string" if array.dtype.kind in "USO" else kif.dtypes.from_numpy(array.dtype).name


def run_one(layer_type: str, arrays: Sequence[np.ndarray], weights: dict[str, np.ndarray] | None = None, **attrs: Any) -> np.ndarray:
    """Build the one-layer model, save → validate → load → run; the shape rule must agree with the kernel."""
    b = kif.GraphBuilder("text_test")
    ins = [b.input(f"in{i}", _dtype(a), (None, *a.shape[1:]) if a.ndim else ()) for i, a in enumerate(arrays)]
    b.output(b.add(layer_type, ins, name="layer", weights=dict(weights or {}), **attrs))
    model = b.build()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "layer.kif"
        kif.save(model, path)
        report = kif.validate(path)
        assert report.ok, [str(f) for f in report.findings]
        loaded = kif.load(path)
        out = kif.run(loaded, {f"in{i}": a for i, a in enumerate(arrays)})[loaded.outputs[0].name]
        rule = infer(loaded.inputs, loaded.layers, {n: tuple(a.shape) for n, a in loaded.weights.items()})[loaded.outputs[0].name]
        assert compatible(rule.shape, out.shape), f"shape rule says {rule.shape}, kernel produced {out.shape}"
        got = "string" if out.dtype == object else kif.dtypes.from_numpy(out.dtype).name
        assert rule.dtype == got, f"shape rule says {rule.dtype}, kernel produced {got}"
        return np.array(out)


def lookup_attrs(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """KIF StringLookup attributes and weights of a Keras config (vocabulary given, reserved tokens not in it)."""
    salt = cfg["salt"]
    attrs = {
        "vocabulary": list(cfg["vocabulary"]),
        "num_oov_indices": cfg["num_oov_indices"],
        "oov_token": cfg["oov_token"],
        "mask_token": cfg["mask_token"],
        "invert": cfg["invert"],
        "output_mode": cfg["output_mode"],
        "max_tokens": cfg["max_tokens"],
        "pad_to_max_tokens": cfg["pad_to_max_tokens"],
        "salt": [salt, salt] if isinstance(salt, int) else salt,
    }
    weights = {}
    if cfg["output_mode"] == "tf_idf":
        idf = np.asarray(cfg["idf_weights"], dtype=np.float32)
        front = attrs["num_oov_indices"]  # the mask has no slot outside int mode
        padded = np.concatenate([np.full(front, idf.mean(), dtype=np.float32), idf])
        weights["idf_weights"] = padded
    return attrs, weights
