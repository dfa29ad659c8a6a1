"""Edited copies of a real .keras archive: hostile-config tests rewrite the config.json Keras wrote, nothing else."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kif.errors import KifError
from kif.keras import convert

Layer = dict[str, Any]

# Hostile configs every value_range image layer (AutoContrast, CLAHE) must refuse with one conversion error.
VALUE_RANGE_CASES: list[tuple[dict[str, object], str]] = [
    ({"value_range": [3, 3]}, "two finite, unequal numbers"),
    ({"value_range": [0, "x"]}, "value_range"),
    ({"data_format": "channels_middle"}, "data_format"),
    ({"factor": 0.5}, "factor"),
]


def rewrite_config(src: Path, out: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """Copy the archive ``src`` to ``out`` with ``edit`` applied in place to its parsed config.json."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                doc = json.loads(data)
                edit(doc)
                data = json.dumps(doc).encode()
            zout.writestr(item, data)
    return out


def with_layer_config(src: Path, out: Path, pick: Callable[[Layer], bool], **changes: Any) -> Path:
    """Copy ``src`` to ``out`` with ``changes`` merged into the config of the first layer ``pick`` accepts."""

    def edit(doc: dict[str, Any]) -> None:
        next(layer for layer in doc["config"]["layers"] if pick(layer))["config"].update(changes)

    return rewrite_config(src, out, edit)


def of_class(name: str) -> Callable[[Layer], bool]:
    return lambda layer: layer["class_name"] == name


def named(name: str) -> Callable[[Layer], bool]:
    return lambda layer: layer["config"].get("name") == name


def assert_one_conversion_error(src: Path, cls: str, message: str, tmp_path: Path, **config: object) -> None:
    """Converting ``src`` with ``config`` merged into its ``cls`` layer is one KifError naming ``cls``; no output written."""
    edited = with_layer_config(src, src.with_name("edited.keras"), of_class(cls), **config)
    with pytest.raises(KifError, match=message) as caught:
        convert(edited, tmp_path / "out.kif")
    assert cls in str(caught.value)
    assert not (tmp_path / "out.kif").exists()
