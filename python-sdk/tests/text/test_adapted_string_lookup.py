"""A StringLookup whose vocabulary was learned by adapt(): Keras 3 keeps it only in the .keras archive's assets/.
The files and TensorFlow's outputs were written by Keras 3.15.1 on TensorFlow 2.21 (fixtures/adapted_lookup)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "adapted_lookup"
RECORDED = json.loads((FIXTURES / "outputs.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(RECORDED["cases"]))
def test_adapted_vocabulary_from_the_assets_reproduces_tensorflow(case: str, tmp_path: Path) -> None:
    convert(FIXTURES / f"adapted_{case}.keras", tmp_path / "m.kif")
    model = kif.load(tmp_path / "m.kif")
    (got,) = kif.run(model, np.asarray(RECORDED["probe"], dtype=object)).values()
    want = np.asarray(RECORDED["cases"][case]["output"])
    np.testing.assert_array_equal(got, want)
    vocabulary = RECORDED["cases"][case]["vocabulary"]
    assert vocabulary[-len(model.layers[0].attributes["vocabulary"]) :] == model.layers[0].attributes["vocabulary"]


def test_an_archive_without_the_asset_is_one_error(tmp_path: Path) -> None:
    source = tmp_path / "no_asset.keras"
    with zipfile.ZipFile(FIXTURES / "adapted_int.keras") as src, zipfile.ZipFile(source, "w") as dst:
        for item in src.infolist():
            if not item.filename.startswith("assets/"):
                dst.writestr(item, src.read(item))
    with pytest.raises(KifError, match="learned by adapt"):
        convert(source, tmp_path / "m.kif")
    assert not (tmp_path / "m.kif").exists()
