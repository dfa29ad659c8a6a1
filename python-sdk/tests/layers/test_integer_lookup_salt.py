"""IntegerLookup with oov_method="farmhash" and a salt: SipHash-2-4 of the token's decimal string picks the OOV slot.

Oracles: TensorFlow's outputs (tests/fixtures/tf_encoding_extra, Keras 3.15 on TF 2.21, written by its generate.py by
hand) and, for single tokens, SipHash-2-4 computed here from the siphash24 package with the key packed by hand."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import kif
import kif.onnx
import kif.torch
from kif.errors import KifError
from kif.keras import convert
from tests.layers.harness import build_layer, run_layer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_encoding_extra"
SALTS = [[7, 7], [123456789, 987654321], [-5, 2**62], [11, 11]]  # as Keras 3 writes them (one integer s becomes [s, s])


def _converted(tmp_path: Path) -> kif.Model:
    return kif.load(convert(FIXTURES / "integer_lookup_salt.keras", tmp_path / "salt.kif"))


def test_keras3_file_converts_with_its_salts_and_reproduces_tensorflow(tmp_path: Path) -> None:
    model = _converted(tmp_path)
    assert [(la.attributes["oov_method"], la.attributes["salt"]) for la in model.layers] == [("farmhash", s) for s in SALTS]
    data = np.load(FIXTURES / "integer_lookup_salt.npz")
    got = kif.run(model, {model.inputs[0].name: data["x0"]})
    for i, out in enumerate(model.outputs):
        assert got[out.name].dtype == data[f"y{i}"].dtype
        np.testing.assert_array_equal(got[out.name], data[f"y{i}"])


def test_torch_importer_reproduces_tensorflow(tmp_path: Path) -> None:
    model = _converted(tmp_path)
    data = np.load(FIXTURES / "integer_lookup_salt.npz")
    outs = kif.torch.load(model)(torch.from_numpy(data["x0"]))
    for i, out in enumerate(outs if isinstance(outs, (list, tuple)) else [outs]):
        np.testing.assert_array_equal(out.numpy(), data[f"y{i}"])


def _siphash(text: str, k0: int, k1: int) -> int:
    from siphash24 import siphash24

    key = struct.pack("<QQ", k0 % 2**64, k1 % 2**64)
    return int.from_bytes(siphash24(text.encode(), key=key).digest(), "little")


@pytest.mark.parametrize("token", [40, -42, 2**40, 0])
@pytest.mark.parametrize("salt", [[7, 7], [-5, 2**62], [2**64 - 1, 0]])
def test_oov_slot_is_siphash_of_the_decimal_string(token: int, salt: list[int]) -> None:
    attrs = {"vocabulary": [10, 20, 30], "num_oov_indices": 5, "oov_method": "farmhash", "salt": salt}
    got = run_layer("IntegerLookup", np.array([[token, 20]], np.int64), **attrs)
    assert got.tolist() == [[_siphash(str(token), *salt) % 5, 6]]


def test_salt_without_farmhash_is_refused() -> None:
    with pytest.raises(KifError, match="salt null unless oov_method") as info:
        run_layer("IntegerLookup", np.array([[1]], np.int64), vocabulary=[1, 2], num_oov_indices=2, salt=[1, 2])
    assert info.value.code == "shape-mismatch"


def test_onnx_refuses_the_hash(tmp_path: Path) -> None:
    x = np.array([[1, 5]], np.int64)
    attrs = {"vocabulary": [1, 2], "num_oov_indices": 3, "oov_method": "farmhash", "salt": [1, 2]}
    with pytest.raises(KifError, match="no string hashing"):
        kif.onnx.export(build_layer("IntegerLookup", x, **attrs), tmp_path / "m.onnx")
