"""``kif conformance check`` for a positive case's tensor files: names, and the string-tensor files.

``inputs.safetensors`` with ``inputs.json`` (when present) hold exactly ``case.json`` ``inputs``, each name once;
likewise ``expected.*`` and ``outputs``. A JSON file passes the case schema's ``strings`` definition and the suite
runner's own reader (the bounds of spec/conformance.md "String tensors"); every string tensor is a graph input or
output of dtype ``string`` and every safetensors one is not.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from jsonschema import Draft202012Validator
from safetensors import safe_open

PAIRS = (("inputs", "inputs"), ("expected", "outputs"))  # file stem, case.json key


def _reader(suite: Path) -> ModuleType:
    """The suite's runner/kif_strings.py: the check reads the files exactly as a third party's runner does."""
    if "kif_strings" not in sys.modules:
        spec = importlib.util.spec_from_file_location("kif_strings", suite / "runner" / "kif_strings.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["kif_strings"] = module
    return sys.modules["kif_strings"]


def _safetensors_names(path: Path) -> list[str]:
    with safe_open(str(path), framework="numpy") as f:
        return list(f.keys())


@functools.lru_cache(maxsize=4)
def _validator(suite: Path) -> Draft202012Validator:
    schema = json.loads((suite / "case.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator({**schema, "oneOf": [{"$ref": "#/$defs/strings"}]})


def tensor_names(folder: Path, spec: dict[str, Any], rel: str) -> tuple[list[str], set[str]]:
    """(problems, names held as string tensors) of the case's inputs.* and expected.* files (folder: cases/GROUP/ID)."""
    problems: list[str] = []
    text_names: set[str] = set()
    suite = folder.resolve().parents[2]
    validator = _validator(suite)
    for stem, key in PAIRS:
        numeric = _safetensors_names(folder / f"{stem}.safetensors")
        text: list[str] = []
        path = folder / f"{stem}.json"
        if path.is_file():
            try:
                text = list(_reader(suite).load_strings(path))
            except ValueError as exc:
                problems.append(f"{rel}: {str(exc).replace(str(path), f'{stem}.json')}"[:300])
                continue
            problems += [f"{rel}: {stem}.json: {e.message[:200]}" for e in validator.iter_errors(json.loads(path.read_text("utf-8")))]
            if not text:
                problems.append(f"{rel}: {stem}.json holds no tensor; omit the file")
        both = sorted(set(numeric) & set(text))
        if both:
            problems.append(f"{rel}: {both} in both {stem}.safetensors and {stem}.json")
        if sorted(numeric + text) != sorted(spec.get(key, [])):
            problems.append(f"{rel}: {stem}.safetensors and {stem}.json do not hold exactly {spec.get(key)}")
        text_names.update(text)
    return problems, text_names


def dtypes_agree(model: Any, text_names: set[str], rel: str) -> list[str]:
    """String tensors in the JSON files, every other tensor in the safetensors ones, as the graph declares them."""
    problems = []
    for s in [*model.inputs, *model.outputs]:
        if (s.dtype == "string") != (s.name in text_names):
            where = "a .json file" if s.dtype == "string" else "a .safetensors file"
            problems.append(f"{rel}: {s.name!r} has dtype {s.dtype}; its tensor belongs in {where}")
    return problems


__all__ = ["dtypes_agree", "tensor_names"]
