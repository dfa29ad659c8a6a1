"""The emitter context: one ONNX graph under construction, plus what emitters need to know about KIF tensors.

Emitters never touch ``onnx`` protos directly except through ``Ctx.node`` and ``Ctx.const``, so the
names they create are unique and every constant becomes an initializer of the right dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from kif.errors import UnsupportedLayerError
from kif.graph import Layer
from kif.layers.registry import TensorType

ONNX_DTYPES: dict[str, int] = {
    "float16": TensorProto.FLOAT16,
    "bfloat16": TensorProto.BFLOAT16,
    "float32": TensorProto.FLOAT,
    "float64": TensorProto.DOUBLE,
    "int8": TensorProto.INT8,
    "int16": TensorProto.INT16,
    "int32": TensorProto.INT32,
    "int64": TensorProto.INT64,
    "uint8": TensorProto.UINT8,
    "uint16": TensorProto.UINT16,
    "uint32": TensorProto.UINT32,
    "uint64": TensorProto.UINT64,
    "bool": TensorProto.BOOL,
    "string": TensorProto.STRING,  # UTF-8 at graph edges and between the string-handling emitters
}


class Ctx:
    """Collects nodes and initializers; ``types`` maps ONNX tensor names to their KIF TensorType when known."""

    def __init__(self, types: dict[str, TensorType], weights: Any) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.types = dict(types)
        self.weights = weights
        self.layer: Layer | None = None
        self.out_types: list[TensorType] = []  # the current layer's output types, from the KIF shape rules
        self._used: set[str] = set(types)
        self._consts: dict[tuple[str, bytes, tuple[int, ...]], str] = {}

    def reserve(self, names: Any) -> None:
        self._used.update(names)

    # --- names and nodes -------------------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        base = f"{self.layer.name}/{hint}" if self.layer is not None else hint
        name, i = base, 1
        while name in self._used:
            name, i = f"{base}_{i}", i + 1
        self._used.add(name)
        return name

    def node(self, op: str, inputs: Sequence[str], *, outputs: int = 1, domain: str = "", **attrs: Any) -> Any:
        """Append one node; return its output name (a list when ``outputs`` > 1). Empty input names mean 'absent'."""
        for key, value in attrs.items():
            ints = [value] if isinstance(value, int) else value if isinstance(value, (list, tuple)) else []
            if any(isinstance(v, int) and not -(2**63) <= v < 2**63 for v in ints):  # a file-controlled size, e.g. a 2**64 stride
                why = f"{op} attribute {key}={value} does not fit ONNX's int64"
                if self.layer is not None:
                    raise self.refuse(why)
                raise UnsupportedLayerError(f"kif.onnx cannot export this model: {why}", code="layer-unsupported")
        names = [self.fresh(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, list(inputs), names, name=self.fresh(op), domain=domain, **attrs))
        return names[0] if outputs == 1 else names

    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        """An initializer holding ``value`` (deduplicated for small constants)."""
        array = np.asarray(value, dtype=dtype)
        if array.dtype == np.dtype("O"):
            raise TypeError("object arrays cannot be ONNX constants")
        small = array.size <= 16
        key = (str(array.dtype), array.tobytes(), array.shape)
        if small and key in self._consts:
            return self._consts[key]
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.array(array, order="C"), name))  # 0-d stays 0-d
        if small:
            self._consts[key] = name
        return name

    def ints(self, values: Sequence[int]) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64), hint="ints")

    def scalar(self, value: float, like: str | np.dtype) -> str:
        """A scalar in ``like`` (a numpy dtype, or a tensor whose type is known)."""
        dtype = like if isinstance(like, np.dtype) else self.np_dtype(like)
        return self.const(np.asarray(value, dtype=dtype), hint="scalar")

    # --- weights and types -----------------------------------------------------------------------

    def weight(self, role: str, dtype: np.dtype) -> np.ndarray:
        """The current layer's weight ``role``, cast to the compute dtype (the spec's compute-dtype rule)."""
        assert self.layer is not None
        return np.asarray(self.weights[self.layer.weights[role]]).astype(dtype)

    def has_weight(self, role: str) -> bool:
        return self.layer is not None and role in self.layer.weights

    def type_of(self, name: str) -> TensorType:
        return self.types[name]

    def shape(self, name: str) -> tuple[int | None, ...]:
        return tuple(self.types[name].shape)

    def rank(self, name: str) -> int:
        return len(self.types[name].shape)

    def np_dtype(self, name: str) -> np.dtype:
        from kif.dtypes import by_name

        return np.dtype(by_name(self.types[name].dtype).numpy)

    def onnx_dtype(self, name: str) -> int:
        return ONNX_DTYPES[self.types[name].dtype]

    def out_dtype(self, index: int) -> np.dtype:
        from kif.dtypes import by_name

        return np.dtype(by_name(self.out_types[index].dtype).numpy)

    def refuse(self, why: str) -> UnsupportedLayerError:
        assert self.layer is not None
        return UnsupportedLayerError(
            f"kif.onnx cannot export layer {self.layer.name!r} ({self.layer.type}): {why}",
            code="layer-unsupported",
            pointer=self.layer.name,
        )
