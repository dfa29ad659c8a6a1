"""``kif.keras.export``: an in-memory Keras 3 model (torch backend) → a KIF bundle; Keras is the oracle.

For each model of tests/keras/keras_models.py the exported bundle validates, keeps the Keras input names
and order and the output order, and the reference runtime reproduces ``model.predict``.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import export
from tests.keras import keras_models as km

L = keras.layers
MODEL_RTOL = MODEL_ATOL = 1e-4  # whole models: per-layer tolerance classes (≤ 1e-4) compound over a few layers


def _run(bundle: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [np.array(v) for v in kif.run(kif.load(bundle), feeds).values()]


def _check(model: keras.Model, feeds: dict[str, np.ndarray], tmp_path: Path, name: str) -> kif.Model:
    want = km.predict(model, feeds)
    bundle = export(model, tmp_path / f"{name}.kif")
    report = kif.validate(bundle)
    assert report.ok, [str(f) for f in report.errors]
    graph = kif.load(bundle)
    assert [s.name for s in graph.inputs] == list(feeds), "graph inputs keep the Keras input names and order"
    got = _run(bundle, feeds)
    assert len(got) == len(want), "graph outputs keep the model's outputs"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == w.shape, f"{name} output {i}: {g.shape} != {w.shape}"
        np.testing.assert_allclose(g, w, rtol=MODEL_RTOL, atol=MODEL_ATOL, err_msg=f"{name} output {i}")
    return graph


@pytest.mark.parametrize("name", list(km.MODELS))
def test_export_reproduces_keras(name: str, tmp_path: Path) -> None:
    model, feeds = km.build(name)
    graph = _check(model, feeds, tmp_path, name)
    assert graph.metadata["source_format"] == "keras-live"
    assert graph.metadata["source_keras_version"] == keras.__version__


def test_export_follows_the_live_weights(tmp_path: Path) -> None:
    """The bundle holds the variables' current values, not what the model was built with."""
    model, feeds = km.build("mlp", seed=3)
    first = _run(export(model, tmp_path / "a.kif"), feeds)
    km.randomise(model, seed=4)
    second = _check(model, feeds, tmp_path, "b")
    assert not np.allclose(first[0], _run(tmp_path / "b.kif", feeds)[0])
    assert second.parameter_count() == model.count_params(), "every variable is written, BatchNormalization's statistics too"


def test_sequential_masking_into_lstm(tmp_path: Path) -> None:
    """Sequential models carry masks implicitly (no op nodes in their config)."""
    model = keras.Sequential(
        [keras.Input((6, 3), name="steps"), L.Masking(0.0), L.LSTM(4, return_sequences=True), L.GRU(2)], name="seqmask"
    )
    km.randomise(model, seed=5)
    x = np.random.default_rng(5).normal(size=(3, 6, 3)).astype("float32")
    x[0, 3:] = 0.0
    x[1, 0] = 0.0
    _check(model, {"steps": x}, tmp_path, "seqmask")


def test_nested_functional_output_and_repeated_calls(tmp_path: Path) -> None:
    """A nested Functional model called twice, one call being a model output (Keras numbers its nodes from 1 there)."""
    inner_in = keras.Input((4,))
    inner = keras.Model(inner_in, L.Dense(3, activation="tanh", name="inner_dense")(inner_in), name="inner")
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    ya, yb = inner(a), inner(b)
    model = keras.Model([a, b], [ya, L.Subtract()([ya, yb]), yb], name="twice")
    km.randomise(model, seed=6)
    rng = np.random.default_rng(6)
    graph = _check(
        model, {"a": rng.normal(size=(2, 4)).astype("float32"), "b": rng.normal(size=(2, 4)).astype("float32")}, tmp_path, "twice"
    )
    assert len(graph.weights) == 2, "both calls share the nested Dense's weights"


def test_lambda_layer_is_refused_and_nothing_written(tmp_path: Path) -> None:
    x = keras.Input((3,))
    model = keras.Model(x, L.Lambda(lambda t: t * 2, name="double")(L.Dense(3)(x)))
    with pytest.raises(KifError, match=r"'double' \(Lambda\)"):
        export(model, tmp_path / "lambda.kif")
    assert not (tmp_path / "lambda.kif").exists()


def test_subclassed_and_unbuilt_models_are_refused(tmp_path: Path) -> None:
    class Doubler(keras.Model):
        def call(self, x):  # type: ignore[no-untyped-def]
            return x * 2

    subclassed = Doubler()
    subclassed(np.zeros((1, 3), "float32"))
    with pytest.raises(KifError, match="Sequential or Functional"):
        export(subclassed, tmp_path / "sub.kif")
    with pytest.raises(KifError, match="not built"):
        export(keras.Sequential([L.Dense(2)]), tmp_path / "unbuilt.kif")
    with pytest.raises(KifError, match=r"keras\.Model"):
        export(L.Dense(2), tmp_path / "layer.kif")
    assert not list(tmp_path.iterdir())
