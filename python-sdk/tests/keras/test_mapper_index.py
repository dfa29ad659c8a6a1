"""The converter imports only the mapper modules a model's classes need (kif/keras/_mapper_index.py), and the
committed index is what the registrations themselves say (``python -m kif.keras.mapper_index --write``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np

from kif.keras import mapper_index

# Mapper modules a model of Dense layers has no use for: text, ops, tf.keras 2, preprocessing, recurrent, wrappers.
_NOT_FOR_DENSE = {
    "kif.keras.text_mappers",
    "kif.keras.text_vectorization_mappers",
    "kif.keras.op_nodes",
    "kif.keras.keras2_mappers",
    "kif.keras.augment_map",
    "kif.keras.layer_mappers",
    "kif.keras.recurrent_mappers",
    "kif.keras.wrapper_mappers",
    "kif.keras.encoding_mappers",
    "kif.keras.savedmodel.reader",
}

_PROBE = """
import json, sys
import numpy as np
import kif
from kif.keras import convert
convert(sys.argv[1], sys.argv[2], progress=False)
y = kif.run(kif.load(sys.argv[2]), {"x": np.asarray(json.loads(sys.argv[3]), "float32")})
print(json.dumps({"modules": sorted(m for m in sys.modules if m.startswith("kif.keras")), "y": next(iter(y.values())).tolist()}))
"""


def test_committed_mapper_index_matches_the_registrations() -> None:
    assert mapper_index.INDEX.read_text(encoding="utf-8") == mapper_index.render(mapper_index.build()), (
        "python-sdk/src/kif/keras/_mapper_index.py is stale: run `python -m kif.keras.mapper_index --write`"
    )


def test_every_indexed_class_resolves_to_its_module_mapper() -> None:
    from kif.keras import _mapper_index
    from kif.keras.mapping import MAPPERS, registered_mapper

    mapper_index.build()  # every module imported: MAPPERS complete, as before the index existed
    assert set(_mapper_index.MODULES) == set(MAPPERS)
    for name, module in _mapper_index.MODULES.items():
        found = registered_mapper(name)
        assert found is MAPPERS[name]
        assert found.__module__ == f"kif.keras.{module}", name
    assert registered_mapper("Dense") is None  # the generic rule: no registered mapper
    assert registered_mapper("NoSuchClass") is None


def test_a_dense_h5_convert_imports_no_other_mapper_module(tmp_path: Path) -> None:
    inputs = keras.Input((3,), name="x")
    hidden = keras.layers.Dense(4, activation="relu", name="d0")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="d1")(hidden))
    src = tmp_path / "dense.h5"
    model.save(src)
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype="float32")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(src), str(tmp_path / "dense.kif"), json.dumps(x.tolist())],
        check=True,
        capture_output=True,
        text=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(seen["y"], model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)  # Keras is the oracle
    assert "kif.keras.mapping" in seen["modules"]
    assert not _NOT_FOR_DENSE & set(seen["modules"]), sorted(_NOT_FOR_DENSE & set(seen["modules"]))
