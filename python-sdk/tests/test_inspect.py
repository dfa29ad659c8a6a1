"""``kif inspect``: typed I/O metadata, description, licence, producer, per-layer output types, weights per file;
``--json`` validates against schemas/inspect.schema.json.

Expected shapes come from the layer definitions (Dense units, Conv2D 'valid' arithmetic), not from the SDK.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kif
from kif import schemas
from kif.cli import main

RNG = np.random.default_rng(11)
META_IN = {
    "layout": "NHWC",
    "value_range": [0, 255],
    "color_order": "RGB",
    "normalization": {"mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375]},
}
LABELS = ["cat", "dog", "other"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    b = kif.GraphBuilder("vision")
    x = b.input("image", "float32", (None, 8, 8, 3), meta=META_IN)
    conv = b.add(
        "Conv2D",
        x,
        name="conv",
        filters=4,
        kernel_size=[3, 3],
        weights={"kernel": RNG.normal(size=(3, 3, 3, 4)).astype("float32"), "bias": np.zeros(4, "float32")},
    )
    flat = b.add("Flatten", conv, name="flat")
    probs = b.add(
        "Dense",
        flat,
        name="head",
        units=3,
        activation="softmax",
        weights={"kernel": RNG.normal(size=(6 * 6 * 4, 3)).astype("float32"), "bias": np.zeros(3, "float32")},
    )
    b.output(probs, meta={"labels": LABELS})
    model = b.build(description="A tiny\nclassifier.", license="MIT", preprocessing="Resize to 8x8.", metadata={"origin": "test"})
    # Tensors of at most 300 bytes per file: the 432-byte conv kernel and 1728-byte dense kernel get a file each.
    return kif.save(model, tmp_path_factory.mktemp("inspect") / "vision.kif", max_shard_bytes=300)


def _run(*args: str | Path) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def test_json_validates_against_the_documented_schema(bundle: Path) -> None:
    status, out, _ = _run("inspect", "--json", bundle)
    assert status == 0
    info = json.loads(out)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schemas.validator("inspect.schema.json").iter_errors(info)]
    assert errors == []
    assert info["format"] == "kif-inspect/1"


def test_json_content(bundle: Path) -> None:
    info = json.loads(_run("inspect", "--json", bundle)[1])
    assert info["inputs"] == [{"name": "image", "dtype": "float32", "shape": [None, 8, 8, 3], "meta": META_IN}]
    assert info["outputs"] == [{"name": "head", "dtype": "float32", "shape": [None, 3], "meta": {"labels": LABELS}}]
    assert (info["description"], info["license"], info["preprocessing"]) == ("A tiny\nclassifier.", "MIT", "Resize to 8x8.")
    assert info["metadata"] == {"origin": "test"}
    assert info["producer"]["name"] == "kif-python"
    # 'valid' 3x3 convolution of 8x8 → 6x6; flatten 6*6*4 = 144; Dense → 3.
    outs = {layer["name"]: layer["outputs"] for layer in info["layers"]}
    assert outs == {
        "conv": [{"name": "conv", "dtype": "float32", "shape": [None, 6, 6, 4]}],
        "flat": [{"name": "flat", "dtype": "float32", "shape": [None, 144]}],
        "head": [{"name": "head", "dtype": "float32", "shape": [None, 3]}],
    }
    params = {layer["name"]: layer["parameters"] for layer in info["layers"]}
    assert params == {"conv": 3 * 3 * 3 * 4 + 4, "flat": 0, "head": 144 * 3 + 3}
    assert info["parameters"] == sum(params.values())
    files = info["weight_files"]
    assert [f["file"] for f in files] == sorted(f["file"] for f in files) and len(files) >= 2
    assert sum(f["tensors"] for f in files) == 4
    assert sum(f["bytes"] for f in files) == info["weight_bytes"] == 4 * (108 + 4 + 432 + 3)
    assert info["self_test"] is False


def test_table_shows_metadata_outputs_and_files(bundle: Path) -> None:
    status, out, _ = _run("inspect", bundle)
    assert status == 0
    lines = out.splitlines()
    assert "Description: A tiny classifier." in lines and "License: MIT" in lines
    (image,) = [line for line in lines if line.startswith("  image:")]
    assert image.startswith("  image: float32 [?, 8, 8, 3]  (")
    for words in ("layout NHWC", "RGB", "range [0, 255]", "mean [123.675, 116.28, 103.53]"):
        assert words in image
    assert "labels: cat, dog, other" in next(line for line in lines if line.startswith("  head:"))
    conv = next(line for line in lines if line.startswith("conv "))
    assert "float32 [?, 6, 6, 4]" in conv and conv.rstrip().endswith("112")
    assert sum(1 for line in lines if ".safetensors:" in line) == len(json.loads(_run("inspect", "--json", bundle)[1])["weight_files"])
    assert "Metadata: origin=test" in lines


def test_many_labels_are_shortened_in_the_table_only(tmp_path: Path) -> None:
    b = kif.GraphBuilder("wide")
    labels = [f"c{i}" for i in range(20)]
    y = b.add(
        "Dense", b.input("x", "float32", (None, 2)), name="d", units=20, weights={"kernel": np.ones((2, 20), "float32")}, use_bias=False
    )
    b.output(y, meta={"labels": labels})
    path = kif.save(b.build(), tmp_path / "w.kif")
    assert "… (20 labels)" in _run("inspect", path)[1]
    assert json.loads(_run("inspect", "--json", path)[1])["outputs"][0]["meta"]["labels"] == labels
