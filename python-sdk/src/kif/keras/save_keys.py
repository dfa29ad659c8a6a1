"""The group names Keras's saving_lib gives layers in a ``.keras`` file: the snake-cased class, numbered by order."""

from __future__ import annotations

import re
from typing import Any


def snake_case(name: str) -> str:
    """Keras's naming.to_snake_case: saving_lib names weight groups by class, not by layer name."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# Config class names that differ from the Python class whose name saving_lib snake-cases.
PYTHON_CLASS = {"GroupQueryAttention": "GroupedQueryAttention"}


def save_keys(layers: list[dict[str, Any]]) -> dict[str, str]:
    """Layer name → its group key in a saving_lib file: snake-cased class, numbered by order of appearance."""
    used: dict[str, int] = {}
    keys = {}
    for layer in layers:
        key = snake_case(PYTHON_CLASS.get(layer["class_name"], layer["class_name"]))
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys[layer["config"]["name"]] = key
    return keys
