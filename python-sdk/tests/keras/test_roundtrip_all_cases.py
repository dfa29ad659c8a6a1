"""KIF → ``kif.keras.to_keras`` → ``kif.keras.export`` on every model case of the conformance suite.

For each case the exported graph must be the original one: the same inputs and outputs, the same
layers in the same order (name, type, attributes, and what each input reads), and byte-equal weights
for every role. Two documented equivalences, both of to_keras:

* Names: Keras forbids ``/`` in layer names, so to_keras writes ``tower/dense`` (a flattened nested
  model) as ``tower_dense`` (``_Builder.name``); layer names are compared after that rule. Tensor names
  are compared up to renaming (Keras names a layer's outputs after the layer), through the wiring:
  each layer input must come from the same producer and output slot.
* Shared layers: KIF layers using the same weight tensors become one Keras layer called several times,
  so a later call's KIF name is the exporter's (``<layer>_call1``); its name is not compared, but which
  earlier layer's weights it shares is.
* Weight dtypes: a Keras layer's variables have one dtype, the one it computes in, so float16 weights
  of a layer that computes in float32 (KIF casts weights to the input's dtype) come back as float32,
  with the same values: allowed only when the widening is exact.
* Composites and primitive ops: to_keras inlines composites and writes ops as keras.ops nodes, composing some
  (``kif.keras.to_keras_ops``), so the exported graph is another graph of the same function; for these cases the
  inputs and both the Keras model's and the exported graph's outputs are compared, not the layers.
Outputs are compared against the suite's goldens (the independent oracle) within the case tolerance,
for both the rebuilt Keras model and the exported graph run by the reference runtime.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors.numpy import load_file

import kif
from kif import catalog
from kif.dtypes import by_name
from kif.keras import export, to_keras
from kif.keras.to_keras import supported_types
from kif.keras.to_keras_ops import TABLE

SUITE = Path(__file__).resolve().parents[3] / "conformance"
TF_ONLY = set(catalog.catalog()) - set(supported_types())  # Keras computes these with TensorFlow ops (not installed)
CASES = sorted(p.parent for p in (SUITE / "cases").glob("*/*/case.json"))
# Cases that used to fail the round trip: Keras-only mask drops (keras.ops.copy), a masked GlobalMaxPooling1D
# built from ExpandDims/Where op nodes, and Keras's build() rewriting LayerNormalization(axis=-1) as [-1].
FORMER_FAILURES = [
    "embedding-mask-attention",
    "embedding-mask-multiheadattention",
    "embedding-mask-globalmaxpooling1d",
    "layernormalization-rms-scaling",
]


# Cases Keras-torch used to be unable to compute: integer MaxPooling (torch has no integer max_pool; to_keras builds
# kif>MaxPooling1D) and an odd-length MelSpectrogram window (Keras-torch's is not tf.signal's; kif>MelSpectrogram).
FORMERLY_UNRUNNABLE = ["int32-maxpooling1d-same", "mel-odd-fft"]


def _keras_outputs(rebuilt: Any, args: list[np.ndarray]) -> list[np.ndarray]:
    out = rebuilt(args if len(args) > 1 else args[0], training=False)
    return [np.asarray(keras.ops.convert_to_numpy(o)) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _wiring(model: kif.Model) -> list[tuple[Any, ...]]:
    """Each layer as (name, type, attributes, inputs by producer, weights by first user), tensor names replaced by where they come from."""
    source: dict[str, Any] = {spec.name: ("input", spec.name) for spec in model.inputs}
    first_user: dict[str, int] = {}
    rows = []
    for index, layer in enumerate(model.layers):
        reads = [None if t is None else source.get(t, ("unknown", t)) for t in layer.inputs]
        weights = {role: first_user.setdefault(tensor, index) for role, tensor in layer.weights.items()}
        shared = bool(weights) and all(user < index for user in weights.values())
        name = None if shared else re.sub(r"[^A-Za-z0-9_.-]", "_", layer.name)  # to_keras's name rule (Keras forbids '/')
        rows.append((name, layer.type, layer.attributes, reads, sorted(weights.items())))
        source.update({t: ("layer", index, slot) for slot, t in enumerate(layer.outputs)})
    rows.append(("outputs", [source.get(spec.name, ("unknown", spec.name)) for spec in model.outputs]))
    return rows


def _close_to_goldens(got: list[np.ndarray], spec: dict[str, Any], expected: dict[str, np.ndarray], what: str) -> None:
    rtol, atol = float(spec["tolerance"]["rtol"]), float(spec["tolerance"]["atol"])
    assert len(got) == len(spec["outputs"]), f"{what}: {len(got)} outputs, expected {len(spec['outputs'])}"
    for name, value in zip(spec["outputs"], got, strict=True):
        want = expected[name]
        assert (value.dtype, value.shape) == (want.dtype, want.shape), f"{what} {name}: {value.dtype}{value.shape}"
        if want.dtype.kind in "biu":
            np.testing.assert_array_equal(value, want, err_msg=f"{what} {name}")
        else:
            np.testing.assert_allclose(value, want, rtol=rtol, atol=atol, err_msg=f"{what} {name}")


def test_suite_is_in_the_repository() -> None:
    assert len(CASES) > 400, f"expected the conformance model cases under {SUITE}/cases"
    assert set(FORMER_FAILURES + FORMERLY_UNRUNNABLE) <= {c.name for c in CASES}


@pytest.mark.parametrize("folder", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_to_keras_then_export_gives_the_same_graph(folder: Path, tmp_path: Path) -> None:
    import json

    spec = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    original = kif.load(folder / "model.kif")
    pending = [t for t in spec["layer_types"] if (t.startswith("op.") and t not in TABLE) or t in TF_ONLY]
    if pending:  # an op without its to_keras row, or a layer Keras runs on TensorFlow: one error naming it
        with pytest.raises(kif.KifError) as refused:
            to_keras(original)
        assert any(t in refused.value.message for t in pending)
        return
    rebuilt = to_keras(original)
    again = kif.load(export(rebuilt, tmp_path / "again.kif"))
    inputs, expected = load_file(str(folder / "inputs.safetensors")), load_file(str(folder / "expected.safetensors"))
    feed = {name: inputs[name] for name in spec["inputs"]}
    args = [feed[s.name].astype(by_name(s.dtype).numpy, copy=False) for s in original.inputs]
    if original.composites or any(t.startswith("op.") for t in spec["layer_types"]):
        # Composites are inlined and ops become keras.ops nodes, some composed (to_keras_ops): the exported graph
        # is another graph of the same function, so both it and the Keras model are held to the goldens
        assert [(s.name, s.dtype, tuple(s.shape)) for s in again.inputs] == [(s.name, s.dtype, tuple(s.shape)) for s in original.inputs]
        _close_to_goldens(_keras_outputs(rebuilt, args), spec, expected, "to_keras")
        _close_to_goldens(list(kif.run(again, feed).values()), spec, expected, "exported graph")
        return

    assert [(s.name, s.dtype, tuple(s.shape)) for s in again.inputs] == [(s.name, s.dtype, tuple(s.shape)) for s in original.inputs]
    assert [(s.dtype, tuple(s.shape)) for s in again.outputs] == [(s.dtype, tuple(s.shape)) for s in original.outputs]
    assert _wiring(again) == _wiring(original)
    for mine, theirs in zip(original.layers, again.layers, strict=True):
        for role, tensor in mine.weights.items():
            want, got = np.asarray(original.weights[tensor]), np.asarray(again.weights[theirs.weights[role]])
            assert got.shape == want.shape, f"{mine.name}.{role}: shape {got.shape}, expected {want.shape}"
            if got.dtype != want.dtype:  # widened to the dtype the layer computes in: exact, or a failure
                assert (want.dtype, got.dtype) == (np.float16, np.float32), f"{mine.name}.{role}: {got.dtype}, expected {want.dtype}"
                got = got.astype(want.dtype)
                assert np.array_equal(got.astype(np.float32), np.asarray(again.weights[theirs.weights[role]])), "the widening lost bits"
            assert got.tobytes() == want.tobytes(), f"{mine.name}.{role}: values differ"

    _close_to_goldens(_keras_outputs(rebuilt, args), spec, expected, "to_keras")
    _close_to_goldens(list(kif.run(again, feed).values()), spec, expected, "exported graph")


def test_saved_rebuilt_model_loads_in_a_fresh_process(tmp_path: Path) -> None:
    """A rebuilt model using kif>DropMask and kif>GlobalMaxPooling1D saves to .keras and loads in another process
    after register_keras_objects(), predicting what the suite's goldens say."""
    import subprocess
    import sys

    names = ["embedding-mask-multiheadattention", "embedding-mask-globalmaxpooling1d"]
    for name in names:
        to_keras(kif.load(SUITE / "cases" / "graph_features" / name / "model.kif")).save(tmp_path / f"{name}.keras")
    script = (
        "import json, sys, numpy as np, keras; from safetensors.numpy import load_file; "
        "from kif.keras.to_keras import register_keras_objects; register_keras_objects()\n"
        "for name in sys.argv[2:]:\n"
        "    case = f'{sys.argv[1]}/{name}'; m = keras.models.load_model(f'{name}.keras')\n"
        "    spec = json.load(open(case + '/case.json')); [x], [y] = spec['inputs'], spec['outputs']\n"
        "    got = keras.ops.convert_to_numpy(m(load_file(case + '/inputs.safetensors')[x]))\n"
        "    np.testing.assert_allclose(got, load_file(case + '/expected.safetensors')[y], rtol=1e-4, atol=1e-5)\n"
    )
    env = {**__import__("os").environ, "KERAS_BACKEND": "torch"}
    cases = str(SUITE / "cases" / "graph_features")
    subprocess.run([sys.executable, "-c", script, cases, *names], cwd=tmp_path, env=env, check=True)
