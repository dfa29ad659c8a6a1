"""Hostile bytes at each level of a bundle and of an inputs file: one kif error each, never a traceback.

Deep nesting (model.json, safetensors header), lone surrogates (read and write), zero-size tensors
with a 2^64 dimension, self-test tensors of the wrong shape, a deflate-bombed inputs.npz; and the
schema fast path used for big graphs agrees with jsonschema.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif import strict_json
from kif.cli import main


def _dense_bundle(path: Path, **build: Any) -> Path:
    b = kif.GraphBuilder("tiny")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("Dense", x, name="dense", units=2, weights={"kernel": np.eye(2, dtype="float32"), "bias": np.zeros(2, "float32")}))
    return kif.save(b.build(**build), path)


def _rewrite_document(bundle: Path, text: str) -> None:
    (bundle / "model.json").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("depth", [65, 1000, 200_000])
def test_deep_json_is_a_value_error_at_any_depth(depth: int) -> None:
    with pytest.raises(ValueError, match="max_nesting_depth"):
        strict_json.loads("[" * depth + "]" * depth)
    with pytest.raises(ValueError, match="max_nesting_depth"):
        strict_json.loads('{"a":' * depth + "1" + "}" * depth)
    assert strict_json.loads("[" * 64 + "]" * 64) == json.loads("[" * 64 + "]" * 64)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 500, "b": '\\"{' * 300})
    assert strict_json.loads(text) == json.loads(text)


def test_deep_nesting_in_model_json_on_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _dense_bundle(tmp_path / "m")
    doc = (bundle / "model.json").read_text(encoding="utf-8")
    _rewrite_document(bundle, doc.replace('"name": "tiny"', '"name": "tiny", "x": ' + "[" * 100_000 + "]" * 100_000, 1))
    assert main(["validate", str(bundle)]) == 1
    out, err = capsys.readouterr()
    assert "document-invalid-json" in out and "Traceback" not in out + err
    with pytest.raises(kif.ValidationError) as caught:
        kif.load(bundle)
    assert caught.value.code == "document-invalid-json"


@pytest.mark.parametrize("where", ["description", "key"])
def test_lone_surrogate_in_model_json_is_refused(tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _dense_bundle(tmp_path / "m")
    doc = json.loads((bundle / "model.json").read_text(encoding="utf-8"))
    text = json.dumps(doc, indent=1)
    extra = '"description": "caf\\udce9",' if where == "description" else '"metadata": {"\\ud800": "x"},'
    _rewrite_document(bundle, text.replace('"name": "tiny",', '"name": "tiny", ' + extra, 1))
    report = kif.validate(bundle)
    assert [f.code for f in report.errors] == ["document-invalid-json"]
    assert main(["validate", str(bundle)]) == 1
    assert "Traceback" not in "".join(capsys.readouterr())
    paired = text.replace('"name": "tiny",', '"name": "tiny", "description": "\\ud83d\\ude00",', 1)
    _rewrite_document(bundle, paired)  # a valid surrogate pair is one character, and fine
    assert kif.validate(bundle).ok and kif.load(bundle).description == "\U0001f600"


def test_saving_a_lone_surrogate_is_a_kif_error_and_leaves_nothing(tmp_path: Path) -> None:
    b = kif.GraphBuilder("tiny")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("ReLU", x, name="relu"))
    model = b.build(description="bad \udc80 byte")
    with pytest.raises(kif.KifError) as caught:
        kif.save(model, tmp_path / "m.kif")
    assert caught.value.code == "document-invalid-json"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_surrogate_in_safetensors_metadata_is_refused(tmp_path: Path) -> None:
    bundle = _dense_bundle(tmp_path / "m")
    weights = bundle / "weights.safetensors"
    blob = weights.read_bytes()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + length])
    header["__metadata__"] = {"k": "\udc80"}
    encoded = json.dumps(header).encode()  # ensure_ascii: written as the escape \udc80
    encoded += b" " * (-(8 + len(encoded)) % 8)
    weights.write_bytes(struct.pack("<Q", len(encoded)) + encoded + blob[8 + length :])
    assert "weights-header-invalid" in kif.validate(bundle, verify_checksums=False).codes()


def test_zero_size_tensor_with_a_2_64_dimension_is_refused(tmp_path: Path) -> None:
    bundle = _dense_bundle(tmp_path / "m")
    doc = json.loads((bundle / "model.json").read_text(encoding="utf-8"))
    weights = bundle / "weights.safetensors"
    blob = weights.read_bytes()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + length])
    header["dense/bias"]["shape"] = [0, 2**64]
    header["dense/bias"]["data_offsets"] = [header["dense/bias"]["data_offsets"][0]] * 2
    doc["weights"]["tensors"]["dense/bias"]["shape"] = [0, 2**64]
    _rewrite_document(bundle, json.dumps(doc))
    encoded = json.dumps(header).encode()
    weights.write_bytes(struct.pack("<Q", len(encoded)) + encoded + blob[8 + length :])
    report = kif.validate(bundle, verify_checksums=False)
    assert ("limit-exceeded", "/weights/tensors/dense~1bias/shape") in [(f.code, f.pointer) for f in report.errors]
    assert "weights-header-invalid" in report.codes()
    with pytest.raises(kif.ValidationError):
        kif.load(bundle, verify=False)


def test_self_test_of_the_wrong_shape_fails_level_full(tmp_path: Path) -> None:
    sample = np.ones((1, 3), "float32")  # the input is [None, 2]
    bad = kif.SelfTest({"x": sample}, {"dense": np.ones((1, 2), "float32")}, rtol=0.0, atol=0.0)
    b = kif.GraphBuilder("tiny")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("Dense", x, name="dense", units=2, weights={"kernel": np.eye(2, dtype="float32"), "bias": np.zeros(2, "float32")}))
    path = kif.save(b.build(self_test=bad), tmp_path / "m.kif")
    assert [(f.code, f.pointer) for f in kif.validate(path).errors] == [("self-test-invalid", "/inputs/0")]


def test_load_runs_each_validation_stage_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    pipeline = importlib.import_module("kif.validate.pipeline")  # kif.validate is the function
    sample = np.ones((1, 2), "float32")
    path = _dense_bundle(tmp_path / "m.kif", self_test=kif.SelfTest({"x": sample}, {"dense": sample}, rtol=0.0, atol=0.0))
    calls: dict[str, int] = {}
    for name in ("check_schema", "check_layers", "check_graph", "check_weights", "_check_shapes"):
        original = getattr(pipeline, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls[_name] = calls.get(_name, 0) + 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(pipeline, name, counted)
    model = kif.load(path)
    model(np.ones((1, 2), "float32"))
    assert calls == dict.fromkeys(("check_schema", "check_layers", "check_graph", "check_weights", "_check_shapes"), 1)


# -- the schema fast path agrees with jsonschema ------------------------------------------------


def _layer_mutations(seed: int) -> list[Any]:
    rng = random.Random(seed)
    base = {"name": "dense", "type": "Dense", "attributes": {}, "inputs": ["x", None], "outputs": ["y"], "weights": {"kernel": "k"}}
    values: list[Any] = ["", "a", "a\n", "\na", "A.b:c/d-e", ".x", "x" * 256, "x" * 257, "é", None, 0, 1.5, True, [], {}, ["x"], [None]]
    out: list[Any] = [base]
    for _ in range(600):
        item = json.loads(json.dumps(base))
        for _ in range(rng.randint(1, 3)):
            key = rng.choice([*base, "extra"])
            choice = rng.random()
            if choice < 0.15:
                item.pop(key, None)
            elif key in ("inputs", "outputs") and choice < 0.6:
                item[key] = [rng.choice(values) for _ in range(rng.randint(0, 3))]
            elif key == "weights" and choice < 0.6:
                item[key] = {rng.choice(["k", "", "a\n"]): rng.choice(values)}
            elif key == "type" and choice < 0.6:
                item[key] = rng.choice(["Dense", "dense", "vendor.x:Layer", "Vendor:Layer", "Dense\n", "D2"])
            else:
                item[key] = rng.choice(values)
        out.append(item)
    return out


def test_fast_layer_check_never_vouches_for_what_jsonschema_rejects() -> None:
    from kif.validate.fast_schema import layer_checker, layer_validator

    conforms = layer_checker()
    assert conforms is not None, "the fast path is off: $defs/layer changed shape; update fast_schema"
    full = layer_validator()
    agreed_ok = 0
    for item in _layer_mutations(9):
        errors = list(full.iter_errors(item))
        assert conforms(item) == (not errors), (item, [e.message for e in errors])
        agreed_ok += not errors
    assert agreed_ok > 20  # the mutations reach both answers


# -- inputs.npz ---------------------------------------------------------------------------------

_NPZ_CHILD = """
# peak RSS from VmHWM: ru_maxrss survives fork + exec, so it would report the parent pytest
import json, re, sys
from kif.cli import main
status = main(["run", sys.argv[1], "--inputs", sys.argv[2], "--output", sys.argv[2] + ".out.npz"])
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print("RESULT " + json.dumps({"status": status, "rss_mb": peak_kb / 1024}))
"""


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    import io

    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": descr, "fortran_order": False, "shape": shape})
    return stream.getvalue()


def _bomb(path: Path, *, lie: bool) -> Path:
    """1 GiB of zeros deflated to about 1 MB; with ``lie`` the central directory claims 1 KB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("x.npy", "w", force_zip64=True) as member:
        member.write(_npy_header((2**28, 1)))
        chunk = bytes(1 << 24)
        for _ in range(64):
            member.write(chunk)
    if lie:
        data = bytearray(path.read_bytes())
        central = data.rfind(b"PK\x01\x02")
        struct.pack_into("<L", data, central + 24, 1024)  # uncompressed size in the central directory
        path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("lie", [False, True])
def test_deflate_bombed_inputs_are_refused_with_small_rss(tmp_path: Path, lie: bool) -> None:
    model = _dense_bundle(tmp_path / "m.kif")
    bomb = _bomb(tmp_path / "inputs.npz", lie=lie)
    assert bomb.stat().st_size < 4 * 1024**2
    env_limit = {"KIF_MAX_NPZ_BYTES": "256MiB"}  # below the bomb's 1 GiB
    done = subprocess.run(
        [sys.executable, "-c", _NPZ_CHILD, str(model), str(bomb)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**__import__("os").environ, **env_limit},
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    result = json.loads(next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))[7:])
    assert result["status"] in (1, 2) and "run-inputs" in done.stdout + done.stderr
    assert result["rss_mb"] < 200, result


def test_npz_loader_refuses_pickles_bad_members_and_damage(tmp_path: Path) -> None:
    from kif.npz_io import load_npz

    np.savez(tmp_path / "ok.npz", a=np.arange(6, dtype="int32").reshape(2, 3))
    np.testing.assert_array_equal(load_npz(tmp_path / "ok.npz")["a"], np.arange(6).reshape(2, 3))
    cases = {
        "object": _npy_header((2,), "|O") + b"\0" * 16,
        "huge-dim": _npy_header((0, 2**64)),
        "short": _npy_header((4,)) + b"\0" * 8,
        "long": _npy_header((1,)) + b"\0" * 8,
        "garbage": b"not an npy file at all",
    }
    for name, payload in cases.items():
        path = tmp_path / f"{name}.npz"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("x.npy", payload)
        with pytest.raises(kif.KifError) as caught:
            load_npz(path)
        assert caught.value.code == "run-inputs" and "x.npy" in str(caught.value.file), name
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as archive:
        archive.writestr("x.txt", b"hello")
    with pytest.raises(kif.KifError):
        load_npz(tmp_path / "other.npz")
