"""STFTSpectrogram and MelSpectrogram reproduce Keras 3 on TensorFlow (fixtures of tests/fixtures/tf_signal, written
by its generate.py by hand), in the reference runtime and the torch importer; the Keras 3 files convert."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif import catalog
from kif.keras import convert
from tests.layers.harness import run_layer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_signal"
CASES: dict[str, dict[str, Any]] = json.loads((FIXTURES / "spectrogram.json").read_text(encoding="utf-8"))
ARRAYS = np.load(FIXTURES / "spectrogram.npz")


def _layer(name: str) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
    kind, cfg = CASES[name]["class_name"], CASES[name]["config"]
    attrs = {k: cfg.get(k) for k in catalog.get(kind).attributes}
    if kind == "STFTSpectrogram":
        attrs["frame_step"] = attrs["frame_step"] or cfg["frame_length"] // 2
        attrs["fft_length"] = attrs["fft_length"] or 2 ** math.ceil(math.log2(cfg["frame_length"]))
    weights = {r: ARRAYS[f"{name}/{r}"] for r in ("real_kernel", "imag_kernel") if f"{name}/{r}" in ARRAYS}
    return kind, attrs, weights


def _tol(kind: str) -> dict[str, float]:
    t = catalog.get(kind).tolerance["float32"]
    return {"rtol": t["rtol"], "atol": t["atol"]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_runtime_reproduces_tensorflow(name: str) -> None:
    kind, attrs, weights = _layer(name)
    got = run_layer(kind, ARRAYS[f"{name}/x"], weights, **attrs)
    np.testing.assert_allclose(got, ARRAYS[f"{name}/y"], **_tol(kind))


@pytest.mark.parametrize("name", sorted(CASES))
def test_torch_importer_reproduces_tensorflow(name: str) -> None:
    from tests.torch.harness import run_torch

    kind, attrs, weights = _layer(name)
    got = run_torch(kind, ARRAYS[f"{name}/x"], weights, **attrs)
    np.testing.assert_allclose(got, ARRAYS[f"{name}/y"], **_tol(kind))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras3_spectrogram_file_converts(suffix: str, tmp_path: Path) -> None:
    bundle = convert(FIXTURES / f"spectrogram_model{suffix}", tmp_path / "m.kif")
    assert kif.validate(bundle).ok
    data = np.load(FIXTURES / "spectrogram_model.npz")
    outs = list(kif.run(kif.load(bundle), {"wave": data["wave"], "stereo": data["stereo"]}).values())
    np.testing.assert_allclose(outs[0], data["y0"], **_tol("MelSpectrogram"))
    np.testing.assert_allclose(outs[1], data["y1"], **_tol("STFTSpectrogram"))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_audio_model_with_mel_spectrogram_reproduces_tensorflow(suffix: str, tmp_path: Path) -> None:
    """MelSpectrogram -> Rescaling -> Permute -> Conv1D -> pooling -> Dense, saved by Keras 3 on TensorFlow."""
    bundle = convert(FIXTURES / f"audio_model{suffix}", tmp_path / "audio.kif")
    assert kif.validate(bundle).ok
    data = np.load(FIXTURES / "audio_model.npz")
    model = kif.load(bundle)
    (got,) = kif.run(model, {model.inputs[0].name: data["x"]}).values()
    np.testing.assert_allclose(got, data["y0"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_onnx_importer_reproduces_tensorflow(name: str, tmp_path: Path) -> None:
    from tests.onnx.helpers import one_layer, run_onnx

    kind, attrs, weights = _layer(name)
    x = ARRAYS[f"{name}/x"]
    (got,) = run_onnx(one_layer(kind, [x], weights, static=True, **attrs), {"in0": x}, tmp_path)
    np.testing.assert_allclose(np.asarray(got), ARRAYS[f"{name}/y"], **_tol(kind))
