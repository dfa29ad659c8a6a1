"""kif.run / kif run --engine: each engine gives the hand-derived outputs of a small model with the same contract
(names, errors) as the reference runtime. Timings live in no test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kif
from kif.cli import main
from kif.errors import KifError

RNG = np.random.default_rng(3)
K1, B1 = RNG.normal(size=(5, 7)).astype("float32"), RNG.normal(size=7).astype("float32")
K2, B2 = RNG.normal(size=(7, 3)).astype("float32"), RNG.normal(size=3).astype("float32")


def _model() -> kif.Model:
    b = kif.GraphBuilder("mlp")
    x = b.input("x", "float32", (None, 5))
    h = b.add("Dense", x, name="hidden", units=7, activation="tanh", weights={"kernel": K1, "bias": B1})
    b.output(b.add("Dense", h, name="head", units=3, weights={"kernel": K2, "bias": B2}))
    return b.build()


def _expected(x: np.ndarray) -> np.ndarray:
    return np.tanh(x @ K1 + B1) @ K2 + B2


@pytest.mark.parametrize("engine", ["reference", "onnxruntime", "torch"])
def test_each_engine_matches_the_hand_derived_outputs(engine: str, tmp_path: Path) -> None:
    model = kif.load(kif.save(_model(), tmp_path / "m.kif"))
    x = np.linspace(-1, 1, 20, dtype="float32").reshape(4, 5)
    out = kif.run(model, {"x": x}, engine=engine)
    assert list(out) == ["head"]
    np.testing.assert_allclose(out["head"], _expected(x), rtol=1e-5, atol=1e-5)
    again = model(x, engine=engine)  # a bare array for a one-input model, the cached session
    np.testing.assert_allclose(again["head"], out["head"], rtol=0, atol=0)
    with pytest.raises(KifError) as info:
        kif.run(model, {"x": x.astype("complex64")}, engine=engine)
    assert info.value.code == "run-inputs"


def test_cli_engine_writes_the_outputs_and_refuses_an_unknown_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = kif.save(_model(), tmp_path / "m.kif")
    x = np.linspace(-1, 1, 10, dtype="float32").reshape(2, 5)
    np.save(tmp_path / "x.npy", x)
    args = ["run", str(bundle), "--inputs", str(tmp_path / "x.npy")]
    assert main([*args, "--output", str(tmp_path / "y.npy"), "--engine", "onnxruntime"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), _expected(x), rtol=1e-5, atol=1e-5)
    capsys.readouterr()
    code = main([*args, "--output", str(tmp_path / "z.npy"), "--engine", "tf"])
    err = capsys.readouterr().err
    assert code != 0 and "usage" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "z.npy").exists()
