"""String tensors (spec/tensors.md#strings): UTF-8 text at the graph's edges, never in a weight file.

In the reference runtime a string tensor is a NumPy object array of Python ``str``. Callers may pass
``str``/``bytes`` arrays (dtype ``U``, ``S`` or ``O``); ``as_strings`` checks every element (UTF-8, at most
``max_string_bytes``) and returns the object form. ``.npy`` members of dtype ``O`` are pickles: ``read_object_array``
unpickles them with a loader that can build nothing but an ndarray of ``str``/``bytes`` (no ``allow_pickle``).
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from kif import limits, sizes
from kif.errors import KifError

STRING = "string"  # the KIF dtype name (graph inputs and outputs, never weights)
_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_CLASSES = {("numpy", "ndarray"), ("numpy", "dtype")}


def is_string_array(array: np.ndarray) -> bool:
    return array.dtype.kind in "USO"


def dtype_name(array: np.ndarray) -> str:
    """The KIF dtype name of a runtime array (an object array holds strings)."""
    return STRING if array.dtype == object else array.dtype.name


def as_strings(array: Any, where: str) -> np.ndarray:
    """An object array of ``str``; every element checked (UTF-8 text, at most ``max_string_bytes``)."""
    array = np.asarray(array)
    if not is_string_array(array):
        raise KifError(f"{where}: expected strings. Received: dtype={array.dtype}", code="run-inputs", pointer=where)
    bound = limits.current()
    out = np.empty(array.shape, dtype=object)
    flat, total = out.reshape(-1), 0
    for index, value in enumerate(array.reshape(-1)):
        if isinstance(value, (bytes, np.bytes_)):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise KifError(f"{where}: element {index} is not UTF-8", code="run-inputs", pointer=where) from None
        if not isinstance(value, str):
            raise KifError(
                f"{where}: expected str elements. Received: {type(value).__name__} at element {index}", code="run-inputs", pointer=where
            )
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > bound.max_string_bytes:
            raise KifError(
                f"{where}: element {index} has {size} bytes; max_string_bytes allows {bound.max_string_bytes}",
                code="limit-exceeded",
                pointer=where,
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise KifError(f"{where}: element {index} holds a lone surrogate, not Unicode text", code="run-inputs", pointer=where) from None
        total += size
        flat[index] = str(value)
    if total > bound.max_tensor_bytes:
        raise KifError(
            f"{where}: {sizes.human(total)} of text; max_tensor_bytes allows {sizes.human(bound.max_tensor_bytes)}",
            code="limit-exceeded",
            pointer=where,
        )
    return out


def for_saving(array: np.ndarray) -> np.ndarray:
    """An object string array as fixed-width ``U`` (what ``np.save`` writes without pickle)."""
    return array.astype(str) if array.dtype == object else array


class _Loader(pickle.Unpickler):
    """Resolves only what NumPy's pickle of an ndarray names; strings and bytes are pickle's own opcodes."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _RECONSTRUCT:
            from numpy.core.multiarray import _reconstruct  # type: ignore[attr-defined]

            return _reconstruct
        if (module, name) in _CLASSES:
            return getattr(np, name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def read_object_array(data: bytes, shape: tuple[int, ...], where: str) -> np.ndarray:
    """The ndarray of ``str``/``bytes`` in an object ``.npy`` member's pickle (``data`` already size-bounded)."""
    try:
        array = _Loader(io.BytesIO(data)).load()
    except Exception as exc:  # a hostile pickle fails in many ways; every one is the same refusal
        raise KifError(f"{where}: expected a pickled array of strings. {exc}", code="run-inputs", pointer=where) from None
    if not isinstance(array, np.ndarray) or array.dtype != object or tuple(array.shape) != tuple(shape):
        raise KifError(f"{where}: expected an object array of shape {list(shape)} holding strings", code="run-inputs", pointer=where)
    return as_strings(array, where)


def load_json(path: Path) -> dict[str, np.ndarray]:
    """``{"name": nested list}`` inputs: strings become string arrays, numbers float64 or int64 arrays."""
    from kif.strict_json import loads

    bound = limits.current()
    if path.stat().st_size > bound.max_npz_bytes:
        raise KifError(
            f"The inputs file has {sizes.human(path.stat().st_size)}; max_npz_bytes allows {sizes.human(bound.max_npz_bytes)}",
            code="run-inputs",
            file=str(path),
        )
    try:
        doc = loads(path.read_bytes().decode("utf-8"))
    except (KifError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise KifError(f"Expected a JSON object of arrays. {exc}", code="run-inputs", file=str(path)) from None
    if not isinstance(doc, dict):
        raise KifError("Expected a JSON object mapping input names to (nested) arrays", code="run-inputs", file=str(path))
    out = {}
    for name, value in doc.items():
        try:
            array = np.array(value)
        except ValueError as exc:
            raise KifError(f"Input {name!r}: expected a rectangular nested array. {exc}", code="run-inputs", file=str(path)) from None
        if array.dtype == object or array.dtype.kind not in "biufU":
            raise KifError(f"Input {name!r}: expected a rectangular array of numbers or of strings", code="run-inputs", file=str(path))
        out[name] = as_strings(array, name) if array.dtype.kind == "U" else array
    return out


def dumps_strings(array: np.ndarray) -> str:
    return json.dumps(for_saving(array).tolist(), ensure_ascii=False)
