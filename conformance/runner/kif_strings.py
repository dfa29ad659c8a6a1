"""Read and write the suite's string-tensor files (``inputs.json``, ``expected.json``) with the standard library and NumPy.

safetensors holds no text, so a case keeps its string tensors (spec/tensors.md#strings) beside its safetensors file,
in JSON (spec/conformance.md "String tensors")::

    {"text": {"shape": [2, 3], "values": ["a", "b", "c", "d", "", "héllo"]}}

one member per tensor: ``shape`` (at most 8 non-negative integers) and ``values`` (the elements as JSON strings, in
row-major order, as many as the shape holds). The file is a hostile input like any other: its size, nesting, rank
and element count are bounded, duplicate names, lone surrogates and every other deviation are refused with one
``ValueError`` naming the file. In memory a string tensor is a NumPy object array of ``str`` (a ``U`` array would
drop trailing NUL characters).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

MAX_FILE_BYTES = 64 * 2**20  # as the document bound of spec/limits.md
MAX_RANK = 8
MAX_DEPTH = 3  # the file object, a tensor object, its arrays
SUFFIX = ".json"


class _Malformed(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Malformed(f"the name {key!r} appears twice")
        out[key] = value
    return out


def _refuse_constant(name: str) -> Any:
    raise _Malformed(f"{name} is not JSON")


def _refuse_float(text: str) -> Any:
    raise _Malformed(f"expected integers in a shape. Received: {text}")


def _depth(text: str) -> int:
    """The deepest nesting of objects and arrays, outside string literals (checked before json.loads recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return depth
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _tensor(name: str, entry: Any) -> np.ndarray:
    if not isinstance(entry, dict) or set(entry) != {"shape", "values"}:
        raise _Malformed(f"tensor {name!r}: expected an object with exactly the members shape and values")
    shape, values = entry["shape"], entry["values"]
    ok = isinstance(shape, list) and len(shape) <= MAX_RANK
    if not ok or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise _Malformed(f"tensor {name!r}: expected shape as at most {MAX_RANK} non-negative integers. Received: {shape!r}"[:300])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _Malformed(f"tensor {name!r}: expected values as an array of strings")
    count = 1
    for extent in shape:  # stops growing once past the values given (no huge product of hostile extents)
        count = min(count * extent, len(values) + 1)
    if count != len(values):
        held = f"more than {len(values)}" if count > len(values) else str(count)
        raise _Malformed(f"tensor {name!r}: shape {shape} holds {held} elements; values has {len(values)}")
    out = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Malformed(f"tensor {name!r}: element {index} holds a lone surrogate, not Unicode text") from None
        out[index] = value
    return out.reshape(tuple(shape))


def load_strings(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every string tensor of the file, by name, as an object array of ``str``; ValueError names what is wrong."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _Malformed(f"{size} bytes; at most {MAX_FILE_BYTES} are read")
        raw = file.read_bytes()
        if raw.startswith(b"\xef\xbb\xbf"):
            raise _Malformed("starts with a byte-order mark")
        text = raw.decode("utf-8")
        if _depth(text) > MAX_DEPTH:
            raise _Malformed(f"nested deeper than {MAX_DEPTH} levels")
        doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant, parse_float=_refuse_float)
        if not isinstance(doc, dict):
            raise _Malformed("expected a JSON object mapping tensor names to {shape, values}")
        return {name: _tensor(name, entry) for name, entry in doc.items()}
    except _Malformed as exc:
        raise ValueError(f"{file}: not a string-tensor file: {exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{file}: not a string-tensor file: not UTF-8") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{file}: not a string-tensor file: not JSON ({exc})"[:300]) from None


def is_strings(array: Any) -> bool:
    """A string tensor in memory: an array of dtype ``U`` or ``S``, or an object array (of str or bytes)."""
    return isinstance(array, np.ndarray) and array.dtype.kind in "USO"


def as_text(array: np.ndarray) -> np.ndarray:
    """The object array of ``str`` of a string array (bytes decoded as UTF-8); ValueError on anything else."""
    out = np.empty(array.shape, dtype=object)
    flat = out.reshape(-1)
    for index, value in enumerate(array.reshape(-1)):
        if isinstance(value, (bytes, np.bytes_)):
            value = bytes(value).decode("utf-8")  # UnicodeDecodeError is a ValueError
        if not isinstance(value, str):
            raise ValueError(f"element {index} is {type(value).__name__}, not a string")
        flat[index] = str(value)
    return out


def save_strings(tensors: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> None:
    """Write ``tensors`` (string arrays) sorted by name, one tensor a line, UTF-8 without escapes."""
    lines = []
    for name in sorted(tensors):
        array = as_text(np.asarray(tensors[name]))
        entry = {"shape": list(array.shape), "values": array.reshape(-1).tolist()}
        lines.append(f"{json.dumps(name, ensure_ascii=False)}: {json.dumps(entry, ensure_ascii=False)}")
    Path(path).write_text("{\n" + ",\n".join(lines) + ("\n" if lines else "") + "}\n", encoding="utf-8")


def sibling(path: str | os.PathLike[str]) -> Path:
    """``inputs.safetensors`` → ``inputs.json``: where the string tensors beside a safetensors file live."""
    return Path(path).with_suffix(SUFFIX)


__all__ = ["MAX_FILE_BYTES", "as_text", "is_strings", "load_strings", "save_strings", "sibling"]
