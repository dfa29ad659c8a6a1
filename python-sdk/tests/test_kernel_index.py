"""Lazy kernels and catalog: the committed kernel index matches the registrations, and opening or running a bundle
imports only the kernel modules, and reads only the layer schemas, of the types it uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.layers import kernel_index


def test_committed_kernel_index_matches_the_registrations() -> None:
    assert kernel_index.INDEX.read_text(encoding="utf-8") == kernel_index.render(kernel_index.build()), (
        "python-sdk/src/kif/layers/_kernel_index.py is stale: run `python -m kif.layers.kernel_index --write`"
    )


_PROBE = """
import json, sys
import kif
from kif import schemas
model = kif.load(sys.argv[1])
out = kif.run(model, {"x": __import__("numpy").ones((1, 3), "float32")})
layers = sorted(m for m in sys.modules if m.startswith("kif.layers.") and not m.split(".")[-1].startswith("_"))
print(json.dumps({"modules": layers, "schemas": schemas.one.cache_info().currsize, "y": next(iter(out.values())).tolist()}))
"""


def test_a_bundle_imports_only_the_kernels_and_schemas_it_uses(tmp_path: Path) -> None:
    b = kif.GraphBuilder("lazy")
    x = b.input("x", "float32", (None, 3))
    kernel = np.arange(6, dtype="float32").reshape(3, 2)
    b.output(b.add("Dense", x, name="y", units=2, weights={"kernel": kernel, "bias": np.zeros(2, "float32")}))
    path = kif.save(b.build(), tmp_path / "m.kif")
    done = subprocess.run([sys.executable, "-c", _PROBE, str(path)], check=True, capture_output=True, text=True)
    seen = json.loads(done.stdout)
    assert seen["y"] == [[6.0, 9.0]]  # ones(3) @ [[0, 1], [2, 3], [4, 5]]
    # Dense's module and the activation functions it applies; none of the other kernel modules
    assert seen["modules"] == ["kif.layers.activations", "kif.layers.dense", "kif.layers.registry"], seen["modules"]
    assert seen["schemas"] < 10, "expected the graph schema, common and Dense's schema, not the whole catalog"


def test_an_unindexed_type_still_finds_its_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    from kif.layers import _kernel_index, kernels

    index = dict(_kernel_index.MODULES)
    index.pop("Flatten")
    monkeypatch.setattr("kif.layers.MODULES", index)
    assert kernels()["Flatten"].__module__ == "kif.layers.reshaping"
    assert "Flatten" in kernels() and "NoSuchType" not in kernels()
