"""``kif diff``: identical bundles, a weight changed, an attribute changed, a renamed layer, another spec version.

Every bundle is written with kif.GraphBuilder and kif.save; expected numbers are computed here with NumPy from the
arrays that were written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.cli import main
from kif.diff import diff, render
from kif.diff_weights import compare

K1 = np.arange(12, dtype="float32").reshape(4, 3) / 4 - 1
K2 = np.linspace(-2, 2, 6, dtype="float32").reshape(3, 2)


def _model(*, first: str = "d1", k1: np.ndarray = K1, activation: str = "relu", units2: int = 2, extra: bool = False) -> kif.Model:
    b = kif.GraphBuilder("small")
    x = b.input("x", "float32", (None, 4))
    h = b.add("Dense", x, name=first, units=3, activation=activation, weights={"kernel": k1, "bias": np.ones(3, "float32")})
    if extra:
        h = b.add("Activation", h, name="act", activation="tanh")
    k2 = K2 if units2 == 2 else np.ones((3, units2), "float32")
    b.output(b.add("Dense", h, name="d2", units=units2, weights={"kernel": k2, "bias": np.zeros(units2, "float32")}))
    return b.build()


def _pair(tmp_path: Path, b: kif.Model, a: kif.Model | None = None) -> tuple[Path, Path]:
    # Whole-file digests: the stamp is then the layers' version (per-tensor digests would raise both to 0.2.0).
    return kif.save(a or _model(), tmp_path / "a.kif", digests="file"), kif.save(b, tmp_path / "b.kif", digests="file")


def _empty_graph(result: dict[str, Any]) -> bool:
    return not (result["metadata"] or result["inputs"] or result["outputs"] or any(result["layers"].values()) or result["tensors_renamed"])


def test_identical_bundles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _pair(tmp_path, _model())
    result = diff(a, b)
    assert result["identical"] and _empty_graph(result)
    assert result["weights"] == {"identical": 4, "changed": [], "reshaped": []}
    assert main(["diff", str(a), str(b)]) == 0
    assert capsys.readouterr().out.strip().endswith("identical")


def test_one_weight_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    changed = K1.copy()
    changed[1, 2] += 0.5
    a, b = _pair(tmp_path, _model(k1=changed))
    result = diff(a, b)
    assert not result["identical"] and _empty_graph(result)
    assert result["weights"]["identical"] == 3 and result["weights"]["reshaped"] == []
    [entry] = result["weights"]["changed"]
    assert (entry["layer"], entry["role"], entry["a"], entry["b"]) == ("d1", "kernel", "d1/kernel", "d1/kernel")
    delta = np.abs(changed.astype(np.float64) - K1.astype(np.float64))
    assert entry["max_abs_diff"] == pytest.approx(delta.max())
    scale = np.maximum(np.abs(changed), np.abs(K1)).astype(np.float64)
    assert entry["max_rel_diff"] == pytest.approx((delta[scale > 0] / scale[scale > 0]).max())
    assert (entry["elements_differing"], entry["elements"]) == (1, 12)
    assert main(["diff", str(a), str(b), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["weights"]["changed"][0]["b"] == "d1/kernel"


def test_one_attribute_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _pair(tmp_path, _model(activation="sigmoid"))
    result = diff(a, b)
    [layer] = result["layers"]["changed"]
    assert (layer["a"], layer["b"], layer["type"]) == ("d1", "d1", "Dense")
    assert layer["changes"] == [{"what": "attribute", "attribute": "activation", "a": "relu", "b": "sigmoid"}]
    assert result["weights"]["identical"] == 4 and not result["weights"]["changed"]
    assert main(["diff", str(a), str(b)]) == 1
    assert "attribute activation: 'relu' -> 'sigmoid'" in capsys.readouterr().out


def test_attribute_change_that_changes_shapes(tmp_path: Path) -> None:
    a, b = _pair(tmp_path, _model(units2=5))
    result = diff(a, b)
    [layer] = result["layers"]["changed"]
    whats = {c["what"]: c for c in layer["changes"]}
    assert whats["attribute"]["a"] == 2 and whats["attribute"]["b"] == 5
    assert whats["output_type"]["a"] == ["float32", [None, 2]] and whats["output_type"]["b"] == ["float32", [None, 5]]
    reshaped = {w["role"]: w for w in result["weights"]["reshaped"]}
    assert reshaped["kernel"]["a_shape"] == [3, 2] and reshaped["kernel"]["b_shape"] == [3, 5]
    assert result["outputs"][0]["fields"] == ["shape"]


def test_renamed_layer_is_matched_by_structure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _pair(tmp_path, _model(first="encoder"))
    result = diff(a, b)
    assert result["layers"]["renamed"] == [{"a": "d1", "b": "encoder", "type": "Dense"}]
    assert not result["layers"]["added"] and not result["layers"]["removed"]
    assert not result["layers"]["changed"], "d2 reads the renamed tensor: its wiring is unchanged"
    assert {"a": "d1", "b": "encoder"} in result["tensors_renamed"]
    assert result["weights"]["identical"] == 4, "weights compared across the renamed tensors"
    assert main(["diff", str(a), str(b)]) == 1
    assert "d1 -> encoder (Dense) renamed (matched by structure)" in capsys.readouterr().out


def test_renamed_and_changed_layer_is_removed_and_added(tmp_path: Path) -> None:
    a, b = _pair(tmp_path, _model(first="encoder", activation="tanh"))
    layers = diff(a, b)["layers"]
    assert layers["removed"] == [{"name": "d1", "type": "Dense"}] and layers["added"] == [{"name": "encoder", "type": "Dense"}]


def test_added_layer(tmp_path: Path) -> None:
    a, b = _pair(tmp_path, _model(extra=True))
    result = diff(a, b)
    assert result["layers"]["added"] == [{"name": "act", "type": "Activation"}]
    [changed] = result["layers"]["changed"]
    assert changed["b"] == "d2" and changed["changes"] == [{"what": "inputs", "a": ["d1"], "b": ["act"]}]


@pytest.mark.parametrize("version", ["0.1.1", "0.2.0"])
def test_different_spec_version(tmp_path: Path, version: str, capsys: pytest.CaptureFixture[str]) -> None:
    newer = _model()
    newer.kif_version = version
    a, b = _pair(tmp_path, newer)
    result = diff(a, b)
    assert result["metadata"] == [{"field": "kif_version", "a": "0.1.0", "b": version}]
    assert not any(result["layers"].values()) and result["weights"]["identical"] == 4
    assert main(["diff", str(a), str(b)]) == 1
    assert f"kif_version: '0.1.0' -> '{version}'" in capsys.readouterr().out


def test_metadata_and_io_differences(tmp_path: Path) -> None:
    other = _model()
    other.description = "retrained"
    other.inputs[0].meta = {"layout": "NC"}
    a, b = _pair(tmp_path, other)
    result = diff(a, b)
    assert result["metadata"] == [{"field": "description", "a": None, "b": "retrained"}]
    assert result["inputs"][0]["index"] == 0 and result["inputs"][0]["fields"] == ["meta"]
    assert "description: None -> 'retrained'" in render(result)


def test_unreadable_and_usage_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = kif.save(_model(), tmp_path / "a.kif")
    (tmp_path / "broken.kif").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert main(["diff", str(a), str(tmp_path / "missing.kif")]) == 2
    assert main(["diff", str(a), str(tmp_path / "broken.kif")]) == 2
    assert "missing.kif" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["diff", str(a)])
    assert info.value.code == 2


def test_compare_numbers_against_numpy() -> None:
    a = np.array([1.0, -2.0, 0.0, np.nan, 4.0], "float32")
    b = np.array([1.5, -2.0, 0.0, np.nan, -4.0], "float32")
    out = compare(a, b)
    assert out["status"] == "changed" and out["elements_differing"] == 2
    assert out["max_abs_diff"] == 8.0 and out["max_rel_diff"] == 2.0  # |4 - -4| / 4
    assert compare(a, np.array([1, 2, 3, 4, 5], "float32"))["max_abs_diff"] == float("inf"), "NaN against a number"
    assert compare(a, a.astype("float64"))["status"] == "reshaped"
    assert compare(a.copy(), a.copy())["status"] == "identical"


def test_json_is_strict_when_a_difference_is_infinite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nan = K1.copy()
    nan[0, 0] = np.nan
    a, b = _pair(tmp_path, _model(k1=nan))
    assert main(["diff", str(a), str(b), "--json"]) == 1
    entry = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))["weights"]["changed"][0]
    assert entry["max_abs_diff"] == "inf" and entry["elements_differing"] == 1
