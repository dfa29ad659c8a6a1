"""Seeded property tests over the Keras converter: mutated configs and damaged .h5 / .keras bytes.

The property: ``kif.keras.convert`` either writes a bundle that validates or raises one
``KifError``, and in both cases leaves nothing behind in the destination's folder or in
the temporary directory, also for damaged .h5 / .keras bytes (h5py's errors become ConversionError).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import kif
from kif.errors import KifError
from kif.keras import convert

from .strategies import KERAS, fuzz_settings, members, mutated_bytes, mutated_document, write_zip

FIXTURE = KERAS / "keras3" / "mlp_activations"
TF_FIXTURE = KERAS / "tf_keras" / "cnn_bn_pool"


def _convert_leaves_nothing(src: Path, weights: Path | None = None) -> None:
    work = src.parent
    before = set(work.iterdir())
    scratch = Path(tempfile.mkdtemp(dir=work))
    previous, tempfile.tempdir = tempfile.tempdir, str(scratch)
    dst = work / "out.kif"
    try:
        try:
            convert(src, dst, weights=weights)
        except KifError:
            assert not dst.exists()
        else:
            assert kif.validate(dst, verify_checksums=False).ok
    finally:
        tempfile.tempdir = previous
    assert not list(scratch.iterdir())
    assert set(work.iterdir()) - before - {dst, scratch} == set()


@given(data=st.data())
@fuzz_settings(25)
def test_mutated_architecture_json_converts_or_is_refused(data: st.DataObject) -> None:
    config = json.loads((FIXTURE / "architecture.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "architecture.json"
        src.write_bytes(data.draw(mutated_document(config)))
        weights = Path(tmp) / "model.weights.h5"
        weights.write_bytes((FIXTURE / "model.weights.h5").read_bytes())
        _convert_leaves_nothing(src, weights)


@given(data=st.data())
@fuzz_settings(20)
def test_mutated_keras_zip_config_converts_or_is_refused(data: st.DataObject) -> None:
    files = members((FIXTURE / "model.keras").read_bytes())
    files["config.json"] = data.draw(mutated_document(json.loads(files["config.json"])))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "model.keras"
        src.write_bytes(write_zip(list(files.items())))
        _convert_leaves_nothing(src)


@given(data=st.data(), name=st.sampled_from(["model.h5", "model.keras"]))
@fuzz_settings(20)
def test_damaged_keras_file_bytes_convert_or_are_refused(data: st.DataObject, name: str) -> None:
    blob = data.draw(mutated_bytes((TF_FIXTURE / name).read_bytes()))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / name
        src.write_bytes(blob)
        _convert_leaves_nothing(src)
