"""An op node's positional arguments as called (``Node.args``): nested lists and constants kept, each tensor a
``TensorArg`` naming its KIF tensor, so slice keys and index lists keep their structure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TensorArg:
    """A tensor among an op node's arguments, by its KIF tensor name."""

    name: str


def named(value: Any, tensor: Callable[[Any], str | None]) -> Any:
    """``value`` with each tensor reference (``tensor(v)`` gives its name, None for a non-tensor) as a TensorArg."""
    found = tensor(value)
    if found is not None:
        return TensorArg(found)
    if isinstance(value, (list, tuple)):
        return [named(v, tensor) for v in value]
    return value


def renamed(value: Any, names: dict[str, str]) -> Any:
    """``Node.args`` with tensor names replaced through ``names`` (the converter's mask aliases)."""
    if isinstance(value, TensorArg):
        return TensorArg(names.get(value.name, value.name))
    return [renamed(v, names) for v in value] if isinstance(value, list) else value
