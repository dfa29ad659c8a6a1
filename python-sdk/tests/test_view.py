"""``kif view``: the page embeds every layer, fetches nothing, and its statistics agree with NumPy."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.cli import main
from kif.shapes import compatible
from kif.view import page as view_page
from kif.view.data import SPEC_BASE, build, group_key, group_keys, groups, spec_link
from kif.view.serve import make_server
from kif.view.stats import tensor_stats

REPO = Path(__file__).resolve().parents[2]
MODELS = sorted((REPO / "conformance" / "cases" / "models").glob("*/model.kif"))
VENDOR = REPO / "python-sdk" / "src" / "kif" / "view" / "assets" / "vendor"
_DATA = re.compile(r'<script type="application/json" id="kif-data">(.*?)</script>', re.DOTALL)


def page_data(page: str) -> dict:
    found = _DATA.search(page)
    assert found, "the page embeds no kif-data"
    return json.loads(found.group(1))


def test_conformance_models_exist() -> None:
    assert len(MODELS) >= 10


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.parent.name)
def test_page_embeds_every_layer_with_its_types(path: Path) -> None:
    model = kif.load(path)
    data = page_data(view_page.build_html(path))
    layers = [n for n in data["nodes"] if n["kind"] == "layer"]
    assert [n["name"] for n in layers] == [layer.name for layer in model.layers]
    assert [n["type"] for n in layers] == [layer.type for layer in model.layers]
    assert {n["name"] for n in data["nodes"] if n["kind"] == "input"} == {s.name for s in model.inputs}
    assert {n["name"] for n in data["nodes"] if n["kind"] == "output"} == {s.name for s in model.outputs}
    # Every declared graph output's type agrees with the type inferred for the layer output producing it.
    produced = {o["name"]: o for n in layers for o in n["outputs"]}
    for spec in model.outputs:
        assert produced[spec.name]["dtype"] == spec.dtype
        assert compatible(spec.shape, tuple(produced[spec.name]["shape"]))
    used = {t for layer in model.layers for t in layer.weights.values()}
    assert set(data["tensors"]) == used
    for name in used:
        assert data["tensors"][name]["shape"] == list(model.weights[name].shape)


def test_page_fetches_nothing() -> None:
    page = view_page.build_html(REPO / "conformance" / "cases" / "models" / "resnet-blocks" / "model.kif")
    # No element loads anything: no src at all, and no href other than the data: favicon.
    assert not re.search(r"\ssrc\s*=", page, re.IGNORECASE)
    assert re.findall(r'\shref\s*=\s*"([^"]*)"', page) == ["data:,"]
    assert "default-src 'none'" in page  # the CSP forbids any fetch the script might attempt
    assert "sourceMappingURL" not in page
    # The only absolute URLs are the SVG namespace name and the spec links (a target of <a href>, opened on a click).
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    links = {n["specLink"] for n in page_data(page)["nodes"] if n["kind"] == "layer"}
    assert urls == {"http://www.w3.org/2000/svg"} | links
    assert all(u.startswith(SPEC_BASE) for u in links)


def test_spec_link_names_the_layer_page_and_relative_bases_work(tmp_path: Path) -> None:
    path = REPO / "conformance" / "cases" / "models" / "mlp" / "model.kif"
    data = page_data(view_page.build_html(path, spec_base="../spec/layers/"))
    for node in (n for n in data["nodes"] if n["kind"] == "layer"):
        assert node["specLink"] == f"../spec/layers/{node['type']}.md"
        assert (REPO / "spec" / "layers" / f"{node['type']}.md").is_file()
    assert spec_link("keras.custom:InstanceNormalization", "../spec/layers/") == "../spec/layers/../extensions.md"
    assert (REPO / "spec" / "extensions.md").is_file()


def _saved(tmp_path: Path, weights: dict[str, np.ndarray], **fields: object) -> Path:
    b = kif.GraphBuilder("stats")
    x = b.input("x", "float32", (None, weights["kernel"].shape[0]))
    y = b.add("Dense", x, name="dense", units=weights["kernel"].shape[1], weights=weights)
    b.output(y)
    target = tmp_path / "m.kif"
    kif.save(b.build(**fields), target)
    return target


def test_statistics_agree_with_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    kernel = rng.normal(0.5, 2.0, size=(30, 20)).astype(np.float32)
    bias = np.full(20, 3.0, np.float32)  # constant: a histogram over a zero-width range
    data = page_data(view_page.build_html(_saved(tmp_path, {"kernel": kernel, "bias": bias})))
    got = data["tensors"]["dense/kernel"]
    assert (got["dtype"], got["shape"], got["size"], got["bytes"]) == ("float32", [30, 20], 600, 2400)
    stats = got["stats"]
    values = kernel.astype(np.float64)
    assert stats["min"] == values.min() and stats["max"] == values.max()
    assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert stats["std"] == pytest.approx(values.std(), rel=1e-12)
    counts, edges = np.histogram(values, bins=16)
    assert stats["histogram"]["counts"] == counts.tolist()
    np.testing.assert_allclose(stats["histogram"]["edges"], edges)
    assert not stats["sampled"] and stats["count"] == 600
    flat = data["tensors"]["dense/bias"]["stats"]
    assert (flat["min"], flat["max"], flat["mean"], flat["std"]) == (3.0, 3.0, 3.0, 0.0)
    assert sum(flat["histogram"]["counts"]) == 20


def test_large_tensor_statistics_come_from_a_bounded_strided_sample() -> None:
    stats = tensor_stats(np.arange(1000, dtype=np.float32), max_sample=100)  # every 10th: 0, 10, ..., 990
    assert stats["sampled"] and stats["count"] == 100
    assert (stats["min"], stats["max"], stats["mean"]) == (0.0, 990.0, 495.0)
    assert stats["histogram"]["counts"] == np.histogram(np.arange(0, 1000, 10), bins=16)[0].tolist()


def test_non_finite_values_are_counted_not_averaged() -> None:
    stats = tensor_stats(np.array([1.0, np.nan, np.inf, -np.inf, 3.0], np.float32))
    assert (stats["nan"], stats["inf"], stats["min"], stats["max"], stats["mean"]) == (1, 2, 1.0, 3.0, 2.0)
    empty = tensor_stats(np.zeros((0, 3), np.float32))
    assert empty["count"] == 0 and empty["mean"] is None and empty["histogram"] is None


def test_no_stats_reads_no_tensor(tmp_path: Path) -> None:
    path = _saved(tmp_path, {"kernel": np.ones((2, 3), np.float32), "bias": np.zeros(3, np.float32)})
    data = page_data(view_page.build_html(path, stats=False))
    assert data["tensors"]["dense/kernel"] == {"shape": [2, 3], "size": 6}
    assert data["statsSample"] is None


def test_hostile_text_cannot_end_the_data_script(tmp_path: Path) -> None:
    evil = "</script><script>alert(1)</script><!-- \u2028"
    path = _saved(tmp_path, {"kernel": np.ones((2, 3), np.float32), "bias": np.zeros(3, np.float32)}, description=evil)
    page = view_page.build_html(path)
    assert "alert(1)</script>" not in page and "<!-- \u2028" not in page
    assert page_data(page)["model"]["description"] == evil


def test_page_of_a_bundle_read_from_an_fsspec_url() -> None:
    import fsspec  # the remote extra (part of the test extra)

    source = REPO / "conformance" / "cases" / "models" / "mlp" / "model.kif"
    fsspec.filesystem("memory").pipe("/view-test/mlp.kif", source.read_bytes())
    try:
        remote = page_data(view_page.build_html("memory://view-test/mlp.kif"))
    finally:
        fsspec.filesystem("memory").rm("/view-test", recursive=True)
    assert remote["tensors"] == page_data(view_page.build_html(source))["tensors"]


def test_block_keys_from_names() -> None:
    assert group_key("conv2_block1_1_conv") == "conv2_block1"  # ResNet, DenseNet
    assert group_key("block_3_expand_BN") == "block_3"  # MobileNetV2
    assert group_key("block1a_dwconv") == "block1a"  # EfficientNet
    assert group_key("stage1_block3_conv") == "stage1_block3"  # the innermost numbered block
    assert group_key("inner/sub/dense") == "inner/sub"  # a nested model, flattened by the converter
    assert group_keys("stage1_block3_conv") == ["stage1", "stage1_block3"]  # blocks nest, outermost first
    assert group_keys("inner/stage2_unit1_relu") == ["inner", "inner/stage2", "inner/stage2_unit1"]
    assert group_key("dense_1") is None and group_key("batch_normalization_3") is None and group_key("block1") is None
    layers = [kif.Layer(n, "ReLU", {}, ["x"], [n]) for n in ("a/1", "a/2", "b", "a/3", "a/4", "c_block1_x", "c_block1_y", "z")]
    assert groups(layers) == [
        {"id": "a", "label": "a", "parent": None, "members": [0, 1]},
        {"id": "a#2", "label": "a", "parent": None, "members": [3, 4]},
        {"id": "c_block1", "label": "c_block1", "parent": None, "members": [5, 6]},
    ]
    names = [f"stage1_block{i}_{k}" for i in range(2) for k in "ab"] + ["stage2_block0_a", "stage2_block0_b", "head"]
    nested = [kif.Layer(n, "ReLU", {}, ["x"], [n]) for n in names]
    assert groups(nested) == [
        {"id": "stage1", "label": "stage1", "parent": None, "members": [0, 1, 2, 3]},
        {"id": "stage1_block0", "label": "stage1_block0", "parent": "stage1", "members": [0, 1]},
        {"id": "stage1_block1", "label": "stage1_block1", "parent": "stage1", "members": [2, 3]},
        {"id": "stage2", "label": "stage2", "parent": None, "members": [4, 5]},  # its one block adds no level
    ]


def test_nested_keras_model_is_one_collapsible_block(tmp_path: Path) -> None:
    from kif.keras import convert

    target = convert(REPO / "python-sdk" / "tests" / "fixtures" / "keras" / "keras3" / "nested_model" / "model.keras", tmp_path / "n.kif")
    data = build(kif.load(target))
    names = {n["id"]: n["name"] for n in data["nodes"]}
    assert [(g["label"], [names[m] for m in g["members"]]) for g in data["groups"]] == [
        ("inner_block", ["inner_block/dense_13", "inner_block/dense_14"])
    ]


def test_vendored_layout_library_is_the_recorded_release() -> None:
    digest = hashlib.sha256((VENDOR / "dagre.min.js").read_bytes()).hexdigest()
    assert digest == view_page.DAGRE_SHA256
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    assert digest in readme and f"@dagrejs/dagre` {view_page.DAGRE_VERSION}" in readme
    assert "Permission is hereby granted" in (VENDOR / "dagre.LICENSE").read_text(encoding="utf-8")
    page = view_page.render(build(kif.load(MODELS[0])))
    assert "Copyright (c) 2012-2014 Chris Pettitt" in page  # the licence travels with every page


def test_server_answers_the_page_on_localhost_only() -> None:
    server = make_server("<!DOCTYPE html><p>hi</p>")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
            assert reply.read() == b"<!DOCTYPE html><p>hi</p>"
            assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/etc/passwd", timeout=10)
        assert err.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_cli_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.html"
    assert main(["view", str(MODELS[0]), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert page_data(out.read_text(encoding="utf-8"))["model"]["name"] == kif.load(MODELS[0]).name
    assert main(["view", str(tmp_path / "missing.kif"), "-o", str(out)]) == 2
    assert "bundle-not-found" in capsys.readouterr().err


def test_cli_without_output_serves_and_prints_the_url() -> None:
    argv = [sys.executable, "-m", "kif", "view", str(MODELS[0]), "--no-stats"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert found, (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        with urllib.request.urlopen(found.group(0), timeout=30) as reply:
            assert page_data(reply.read().decode("utf-8"))["model"]["name"] == kif.load(MODELS[0]).name
    finally:
        proc.terminate()
        proc.wait(timeout=30)
