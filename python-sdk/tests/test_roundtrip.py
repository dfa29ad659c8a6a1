"""Save → load round trips of both bundle forms: bit-exact tensors, every field, graphs that run."""

from __future__ import annotations

import mmap
import struct
import zipfile
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import kif

FORMS = ["directory", "archive"]
DTYPES = ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def _path(tmp_path: Path, form: str, stem: str = "model") -> Path:
    return tmp_path / (f"{stem}.kif" if form == "archive" else stem)


def _random(dtype: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    numpy_dtype = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    values = rng.normal(scale=100.0, size=shape).astype(numpy_dtype)
    if values.size >= 4:  # the values a careless writer would mangle: NaN, ±inf, -0.0
        flat = values.reshape(-1)
        flat[:4] = np.array([np.nan, np.inf, -np.inf, -0.0]).astype(numpy_dtype)
    return values


def _tensors(dtype: str) -> dict[str, np.ndarray]:
    """Ordinary, 0-d, empty and non-contiguous (sliced, transposed, Fortran-ordered) tensors."""
    rng = np.random.default_rng(sum(map(ord, dtype)))
    big = _random(dtype, (6, 8), rng)
    out = {
        f"{dtype}/plain": _random(dtype, (3, 5), rng),
        f"{dtype}/scalar": _random(dtype, (), rng),
        f"{dtype}/empty": _random(dtype, (0, 4), rng),
        f"{dtype}/strided": big[::2, 1::3],
        f"{dtype}/transposed": big.T,
        f"{dtype}/fortran": np.asfortranarray(_random(dtype, (4, 3), rng)),
    }
    assert not out[f"{dtype}/strided"].flags.c_contiguous and not out[f"{dtype}/transposed"].flags.c_contiguous
    return out


def _carrier(weights: dict[str, np.ndarray]) -> kif.Model:
    """A one-layer model that carries arbitrary tensors (unused tensors are only a warning)."""
    b = kif.GraphBuilder("carrier")
    b.output(b.add("Identity", b.input("x", "float32", (None, 2)), name="identity"))
    model = b.build()
    model.weights = dict(weights)
    return model


def _is_memory_mapped(array: np.ndarray) -> bool:
    base: Any = array
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)


def _assert_bit_exact(original: np.ndarray, loaded: np.ndarray) -> None:
    assert loaded.dtype == original.dtype.newbyteorder("<") or loaded.dtype == original.dtype
    assert loaded.shape == original.shape
    assert loaded.tobytes() == np.ascontiguousarray(original).astype(loaded.dtype).tobytes()


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_round_trips_bit_exact(tmp_path: Path, form: str, dtype: str) -> None:
    tensors = _tensors(dtype)
    path = kif.save(_carrier(tensors), _path(tmp_path, form))
    report = kif.validate(path)
    assert report.ok, [str(f) for f in report.errors]
    loaded = kif.load(path)
    assert sorted(loaded.weights) == sorted(tensors)
    for name, original in tensors.items():
        got = loaded.weights[name]
        _assert_bit_exact(original, got)
        assert not got.flags.writeable, name
        assert got.flags.c_contiguous, name
        assert _is_memory_mapped(got), name
    assert loaded.weights[f"{dtype}/scalar"].ndim == 0
    assert loaded.weights[f"{dtype}/empty"].size == 0


def test_bfloat16_stays_bfloat16(tmp_path: Path) -> None:
    loaded = kif.load(kif.save(_carrier({"w": np.array([1.5, -2.0], dtype=ml_dtypes.bfloat16)}), tmp_path / "m.kif"))
    assert loaded.weights["w"].dtype == np.dtype(ml_dtypes.bfloat16)


def test_big_endian_input_is_written_little_endian(tmp_path: Path) -> None:
    original = np.arange(6, dtype=">f4").reshape(2, 3) / 7
    loaded = kif.load(kif.save(_carrier({"w": original}), tmp_path / "m.kif"))
    assert loaded.weights["w"].dtype == np.dtype("<f4")
    np.testing.assert_array_equal(loaded.weights["w"], original)


@pytest.mark.parametrize("form", FORMS)
def test_weights_are_read_only_memory_maps(tmp_path: Path, form: str) -> None:
    path = kif.save(_carrier({"w": np.ones((4, 4), "float32")}), _path(tmp_path, form))
    weights = kif.load(path).weights["w"]
    assert _is_memory_mapped(weights)
    with pytest.raises(ValueError):
        weights[0, 0] = 2.0


@pytest.mark.parametrize("form", FORMS)
def test_sharding_splits_weights_into_several_files(tmp_path: Path, form: str) -> None:
    rng = np.random.default_rng(1)
    tensors = {f"t{i}": rng.normal(size=100).astype("float32") for i in range(6)}  # 400 bytes each
    tensors["big"] = rng.normal(size=400).astype("float32")  # 1600 bytes: above the limit, a file of its own
    path = kif.save(_carrier(tensors), _path(tmp_path, form), max_shard_bytes=1000)
    if form == "archive":
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
    else:
        members = sorted(p.name for p in path.iterdir())
    shards = sorted(m for m in members if m.endswith(".safetensors"))
    assert len(shards) == 4 and shards[0] == "weights-00001-of-00004.safetensors", shards
    assert sorted(members) == sorted([*shards, "model.json"])
    report = kif.validate(path)
    assert report.ok, [str(f) for f in report.errors]
    loaded = kif.load(path)
    per_file: dict[str, int] = {}
    for name, info in _document(path)["weights"]["tensors"].items():
        per_file[info["file"]] = per_file.get(info["file"], 0) + int(tensors[name].nbytes)
    assert all(size <= 1000 or size == 1600 for size in per_file.values()), per_file
    for name, original in tensors.items():
        _assert_bit_exact(original, loaded.weights[name])


def _document(path: Path) -> dict[str, Any]:
    import json

    if path.is_dir():
        data: dict[str, Any] = json.loads((path / "model.json").read_text(encoding="utf-8"))
        return data
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("model.json"))
    return data


def _annotated_model() -> kif.Model:
    b = kif.GraphBuilder("classifier")
    normalization = {"mean": [0.5, 0.25, 0.125], "std": [2.0, 4.0, 8.0]}
    meta = {"layout": "NC", "value_range": [0, 255], "normalization": normalization, "color_order": "RGB"}
    x = b.input("pixels", "float32", (None, 3), meta=meta)
    weights = {"kernel": np.full((3, 2), 0.5, "float32"), "bias": np.zeros(2, "float32")}
    y = b.add("Dense", x, name="head", units=2, activation="softmax", weights=weights)
    b.output(y, meta={"labels": ["cat", "dog"]})
    sample_in = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    sample = kif.SelfTest({"pixels": sample_in}, {"head": np.array([[0.5, 0.5]], dtype="float32")}, rtol=1e-6, atol=1e-7)
    return b.build(
        metadata={"source": "unit test", "épithète": "ünïcode ✓"},
        description="A two-class head.\nSecond line.",
        license="Apache-2.0",
        preprocessing="Scale to [0, 1], then normalise per channel.",
        producer={"name": "kif-tests", "version": "9.9.9"},
        self_test=sample,
    )


@pytest.mark.parametrize("form", FORMS)
def test_every_field_is_preserved(tmp_path: Path, form: str) -> None:
    model = _annotated_model()
    path = kif.save(model, _path(tmp_path, form))
    report = kif.validate(path, level="numeric")
    assert report.ok and not report.findings, [str(f) for f in report.findings]
    loaded = kif.load(path)
    for key in ("name", "metadata", "description", "license", "preprocessing", "producer", "inputs", "outputs", "layers"):
        assert getattr(loaded, key) == getattr(model, key), key
    assert model.kif_version is None and model.document_version() == "0.1.0"  # Dense + softmax: 0.1.0 layers
    assert loaded.kif_version == "0.2.0"  # the per-tensor digests kif.save writes by default are a 0.2.0 field
    assert loaded.inputs[0].meta["normalization"]["std"] == [2.0, 4.0, 8.0]
    assert loaded.outputs[0].meta == {"labels": ["cat", "dog"]}
    assert loaded.self_test is not None and model.self_test is not None
    assert (loaded.self_test.rtol, loaded.self_test.atol) == (1e-6, 1e-7)
    for kind in ("inputs", "outputs"):
        want, got = getattr(model.self_test, kind), getattr(loaded.self_test, kind)
        assert sorted(got) == sorted(want)
        for name in want:
            _assert_bit_exact(want[name], got[name])


@pytest.mark.parametrize("form", FORMS)
def test_saving_a_loaded_model_reproduces_the_bundle(tmp_path: Path, form: str) -> None:
    first = kif.save(_annotated_model(), _path(tmp_path, form, "first"))
    second = kif.save(kif.load(first), _path(tmp_path, form, "second"))
    if form == "archive":
        assert first.read_bytes() == second.read_bytes()
    else:
        names = sorted(p.name for p in first.iterdir())
        assert names == sorted(p.name for p in second.iterdir())
        assert all((first / n).read_bytes() == (second / n).read_bytes() for n in names)


def _functional() -> tuple[kif.Model, dict[str, np.ndarray]]:
    """Two inputs, two outputs; layer 'shared' is called twice (builder.reuse) and a third
    layer uses the same kernel tensor under another layer."""
    rng = np.random.default_rng(7)
    kernel = rng.normal(size=(3, 4)).astype("float32")
    bias = rng.normal(size=4).astype("float32")
    b = kif.GraphBuilder("siamese")
    left = b.input("left", "float32", (None, 3))
    right = b.input("right", "float32", (None, 3))
    h_left = b.add("Dense", left, name="shared", units=4, activation="relu", weights={"kernel": kernel, "bias": bias})
    h_right = b.reuse("shared", right, name="shared_again")
    total = b.add("Add", [h_left, h_right], name="total")
    linear = b.add("Dense", right, name="linear", units=4, use_bias=False, weights={"kernel": "shared/kernel"})
    b.output(total)
    b.output(linear)
    return b.build(), {"kernel": kernel, "bias": bias}


@pytest.mark.parametrize("form", FORMS)
def test_functional_graph_survives_and_runs(tmp_path: Path, form: str) -> None:
    model, w = _functional()
    path = kif.save(model, _path(tmp_path, form))
    report = kif.validate(path)
    assert report.ok and not report.findings, [str(f) for f in report.findings]
    loaded = kif.load(path)
    assert [s.name for s in loaded.inputs] == ["left", "right"]
    assert [s.name for s in loaded.outputs] == ["total", "linear"]
    assert sorted(loaded.weights) == ["shared/bias", "shared/kernel"]  # stored once, used three times
    assert loaded.layer("shared_again").weights == loaded.layer("shared").weights == {"kernel": "shared/kernel", "bias": "shared/bias"}
    assert loaded.layer("linear").weights == {"kernel": "shared/kernel"}
    assert loaded.layers == model.layers
    rng = np.random.default_rng(8)
    left, right = rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(5, 3)).astype("float32")
    out = kif.run(loaded, {"left": left, "right": right})
    assert list(out) == ["total", "linear"]
    expected_total = np.maximum(left @ w["kernel"] + w["bias"], 0) + np.maximum(right @ w["kernel"] + w["bias"], 0)
    np.testing.assert_allclose(out["total"], expected_total, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["linear"], right @ w["kernel"], rtol=1e-5, atol=1e-6)


def test_archive_members_are_stored_and_64_byte_aligned(tmp_path: Path) -> None:
    model = _annotated_model()
    path = kif.save(model, tmp_path / "m.kif", max_shard_bytes=8)
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    assert len(infos) >= 4  # two weight shards, the self-test file and model.json
    for info in infos:
        assert info.compress_type == zipfile.ZIP_STORED, info.filename
        assert info.compress_size == info.file_size
        assert info.flag_bits & 0x1 == 0
        name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
        data_start = info.header_offset + 30 + name_len + extra_len
        assert data_start % 64 == 0, (info.filename, data_start)
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
