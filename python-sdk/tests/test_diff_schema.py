"""``kif diff --json`` follows schemas/diff.schema.json in every kind of difference test_diff.py exercises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif import schemas
from kif.cli import main
from tests.test_diff import K1, _model


def _scenarios() -> dict[str, kif.Model]:
    weight = K1.copy()
    weight[1, 2] += 0.5
    nan = K1.copy()
    nan[0, 0] = np.nan
    described = _model()
    described.description = "retrained"
    described.inputs[0].meta = {"layout": "NC"}
    newer = _model()
    newer.kif_version = "0.2.0"
    return {
        "identical": _model(),
        "weight": _model(k1=weight),
        "nan-weight": _model(k1=nan),
        "attribute": _model(activation="sigmoid"),
        "shapes": _model(units2=5),
        "renamed": _model(first="encoder"),
        "renamed-and-changed": _model(first="encoder", activation="tanh"),
        "added": _model(extra=True),
        "version": newer,
        "metadata-and-io": described,
    }


def _diff_json(tmp_path: Path, other: kif.Model, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    a, b = kif.save(_model(), tmp_path / "a.kif", digests="file"), kif.save(other, tmp_path / "b.kif", digests="file")
    capsys.readouterr()
    code = main(["diff", str(a), str(b), "--json"])
    return code, json.loads(capsys.readouterr().out)


def _errors(document: Any) -> list[str]:
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schemas.validator("diff.schema.json").iter_errors(document)]


@pytest.mark.parametrize("scenario", sorted(_scenarios()))
def test_diff_json_validates_against_its_schema(tmp_path: Path, scenario: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = _diff_json(tmp_path, _scenarios()[scenario], capsys)
    assert _errors(document) == []
    assert code == (0 if scenario == "identical" else 1)
    assert document["identical"] is (code == 0)


def test_the_schema_rejects_what_scripts_must_not_see(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, document = _diff_json(tmp_path, _scenarios()["shapes"], capsys)
    renamed_field = {**document, "layer": document["layers"]}
    del renamed_field["layers"]
    assert _errors(renamed_field), "a renamed top-level field must fail"
    negative = json.loads(json.dumps(document))
    negative["weights"]["reshaped"][0]["a_shape"] = [-1]
    assert _errors(negative), "a negative dimension must fail"
    change = json.loads(json.dumps(document))
    change["layers"]["changed"][0]["changes"][0]["what"] = "renamed"
    assert _errors(change), "an unknown change kind must fail"
