"""Hashing and HashedCrossing reproduce TensorFlow 2.21 bit for bit (FarmHash Fingerprint64, SipHash-2-4, FingerprintCat64)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from kif import hashes
from tests.text.tf_fixtures import ARRAYS, CASES, expected, inputs_of, names, run_one


def test_fingerprint64_is_tf_to_hash_bucket_fast() -> None:
    text = [str(t) for t in ARRAYS["hash_text"]]  # lengths 0..130 and multi-byte UTF-8: every FarmHash branch
    for bins in (1, 3, 1000, 2**31 - 1, 2**63 - 1):
        assert [hashes.fingerprint64(t) % bins for t in text] == ARRAYS[f"fast_{bins}"].tolist()


@pytest.mark.parametrize("key", [(0, 0), (133, 137), (2**63 - 1, 1), (12345678901234, 98765)])
def test_siphash_is_tf_to_hash_bucket_strong(key: tuple[int, int]) -> None:
    text = [str(t) for t in ARRAYS["hash_text"]]
    digest = hashes.hasher(list(key))
    assert [digest(t) % (2**63 - 1) for t in text] == ARRAYS[f"strong_{key[0]}_{key[1]}"].tolist()


def test_fingerprint_cat64_by_hand() -> None:
    """FingerprintCat64 of tensorflow/core/platform/fingerprint.h, restated with Python integers."""
    mul, mask = 0xC6A4A7935BD1E995, 2**64 - 1
    a, b = 0xDECAFCAFFE, 12345

    def mix(v: int) -> int:
        return v ^ (v >> 47)

    r = a ^ mul
    r ^= mix(b * mul & mask) * mul & mask
    r = r * mul & mask
    r = mix(mix(r) * mul & mask)
    assert hashes.fingerprint_cat64(a, b) == r
    assert struct.pack("<Q", r)  # fits 64 bits


def _hashing_attrs(cfg: dict) -> dict:
    salt = cfg["salt"]
    return {
        "num_bins": cfg["num_bins"],
        "mask_value": cfg["mask_value"],
        "salt": [salt, salt] if isinstance(salt, int) else salt,
        "output_mode": cfg["output_mode"],
    }


@pytest.mark.parametrize("name", names("Hashing"))
def test_hashing_reproduces_tensorflow(name: str) -> None:
    got = run_one("Hashing", inputs_of(name), **_hashing_attrs(CASES[name]["config"]))
    want = expected(name)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", names("HashedCrossing"))
def test_hashed_crossing_reproduces_tensorflow(name: str) -> None:
    cfg = CASES[name]["config"]
    got = run_one("HashedCrossing", inputs_of(name), num_bins=cfg["num_bins"], output_mode=cfg["output_mode"])
    want = expected(name)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("module", ["farmhash", "siphash24"])
def test_missing_text_extra_is_one_error_naming_it(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import kif
    from kif.errors import KifError

    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    salt = None if module == "farmhash" else [1, 2]
    b = kif.GraphBuilder("h")
    b.output(b.add("Hashing", b.input("x", "string", [None]), name="h", num_bins=3, mask_value=None, salt=salt, output_mode="int"))
    with pytest.raises(KifError, match=r"kif-format\[text\]") as info:
        kif.run(b.build(), {"x": np.array(["a"])})
    assert info.value.code == "dependency-missing"


def test_importers_refuse_with_the_reason(tmp_path: Path) -> None:
    import kif
    from kif.errors import KifError

    b = kif.GraphBuilder("h")
    x = b.input("x", "int64", [None, 1])
    y = b.input("y", "string", [None, 1])
    b.output(b.add("HashedCrossing", [x, y], name="cross", num_bins=5, output_mode="int"))
    model = b.build()
    from kif.onnx import export

    with pytest.raises(KifError, match="ONNX has no string hashing") as info:
        export(model, tmp_path / "m.onnx")
    assert getattr(info.value, "not_supported", False)
    import kif.torch

    with pytest.raises(KifError, match="PyTorch has no string tensors") as info:
        kif.torch.load(model)
    assert info.value.not_supported


def _graph(layer: str, inputs: list[tuple[str, list[int | None]]], **attrs: object) -> object:
    import kif

    b = kif.GraphBuilder("g")
    names = [b.input(f"in{i}", dtype, shape) for i, (dtype, shape) in enumerate(inputs)]
    b.output(b.add(layer, names if len(names) > 1 else names[0], name="l", **attrs))
    return b.build()


HASH = {"num_bins": 4, "mask_value": None, "salt": None, "output_mode": "int"}


@pytest.mark.parametrize(
    ("layer", "inputs", "attrs", "needle"),
    [
        ("Hashing", [("bool", [None])], HASH, "string, integer or floating"),
        ("Hashing", [("int64", [None])], {**HASH, "mask_value": "a"}, "mask_value"),
        ("Hashing", [("string", [None])], {**HASH, "mask_value": 3}, "mask_value"),
        ("Hashing", [("string", [None, 2, 2])], {**HASH, "output_mode": "count"}, "rank 1 or 2"),
        ("Hashing", [("string", [None, None])], {**HASH, "output_mode": "one_hot"}, "known last dimension"),
        ("HashedCrossing", [("int64", [None, 2]), ("int64", [None, 2])], {"num_bins": 3, "output_mode": "int"}, "batch, 1"),
        ("HashedCrossing", [("int64", [None]), ("int64", [None, 1])], {"num_bins": 3, "output_mode": "int"}, "equal shape"),
        ("HashedCrossing", [("float32", [None]), ("int64", [None])], {"num_bins": 3, "output_mode": "int"}, "string or integer"),
    ],
)
def test_shape_rules_refuse_with_one_kif_error(layer: str, inputs: list, attrs: dict, needle: str) -> None:
    import kif
    from kif.errors import KifError

    with pytest.raises(KifError, match=needle):
        model = _graph(layer, inputs, **attrs)
        kif.validate(model)
        kif.run(
            model,
            {
                f"in{i}": np.zeros([2 if d is None else d for d in shape], dtype=dt if dt != "string" else "U1")
                for i, (dt, shape) in enumerate(inputs)
            },
        )


def test_huge_salt_words_survive_a_bundle_round_trip(tmp_path: Path) -> None:
    """Salt words beyond 2^53 are exact integers in model.json; 2^64 - 1 and -1 name the same key word."""
    import kif

    words = np.array(["a", "héllo", ""])
    outs = []
    for index, salt in enumerate(([2**64 - 1, 5], [-1, 5])):
        path = tmp_path / f"h{index}.kif"
        kif.save(_graph("Hashing", [("string", [None])], **{**HASH, "num_bins": 1000, "salt": salt}), path)
        loaded = kif.load(path)
        assert loaded.layers[0].attributes["salt"] == salt
        outs.append(kif.run(loaded, {"in0": words})["l"])
    np.testing.assert_array_equal(outs[0], outs[1])
    digest = hashes.hasher([2**64 - 1, 5])
    assert outs[0].tolist() == [digest(w) % 1000 for w in words]
