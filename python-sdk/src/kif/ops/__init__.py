"""Primitive ops (spec/ops/index.md): the catalog's ONNX-granularity operations, named ``op.<name>``.

One table is the source of truth: each family module (``elementwise``, ``reductions``, ``shape``, ``axis``) lists its ops as
``Op`` rows (summary, math, attributes, arity, tolerance, torch function, ONNX op, kernel class). From the rows come
the reference kernels (``kif/layers/primitive_ops.py``), the torch and ONNX lowerings and, through
``python -m kif.ops.generate``, ``schemas/ops/<name>.schema.json`` and the family pages ``spec/ops/<family>.md``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from kif.catalog import OP_PREFIX

SINCE = "0.2.0"


@dataclass(frozen=True)
class Tol:
    """Tolerance class: (rtol, atol) for float32 and float16, and why."""

    f32: tuple[float, float]
    f16: tuple[float, float]
    reason: str


EXACT = Tol((0, 0), (0, 0), "Exact: the result is the correctly rounded value (or pure data movement).")
ROUNDED = Tol((1e-6, 1e-6), (1e-3, 1e-3), "Libraries' elementary functions differ by a few units in the last place.")
SUMMED = Tol((1e-5, 1e-5), (1e-2, 1e-2), "The summation order of a reduction is not fixed.")


@dataclass(frozen=True)
class Op:
    name: str  # the type is op.<name>
    family: str  # the spec page: spec/ops/<family>.md
    summary: str  # one line: the schema's description
    math: str  # the normative definition (Markdown)
    kernel: type  # the reference kernel class (infer + run), parametrised by this row
    inputs: tuple[int, int | None] = (1, 1)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # JSON Schema property (description, default)
    weights: dict[str, dict[str, Any]] = field(default_factory=dict)
    tolerance: Tol = EXACT
    dtypes: str = "any"  # what the inputs accept: float, numeric (no bool), any
    numpy: Any = None  # the element-wise NumPy function the kernel applies (family-specific signature)
    torch: str = ""  # torch function the lowering calls (torch.<name>); "" = a dedicated lowering
    onnx: str = ""  # ONNX operator applied to the inputs; "" = a dedicated emitter
    outputs: tuple[int, int | None] = (1, 1)  # (min, max) declared outputs; max None = as many as the attributes give

    @property
    def type(self) -> str:
        return OP_PREFIX + self.name


@functools.cache
def ops() -> dict[str, Op]:
    """Every primitive op by type (``op.add``), from the family tables."""
    from kif.ops import axis, elementwise, reductions, shape

    rows: list[Op] = [*elementwise.OPS, *reductions.OPS, *shape.OPS, *axis.OPS]
    out = {row.type: row for row in rows}
    if len(out) != len(rows):
        raise RuntimeError("two primitive ops share a name")
    return dict(sorted(out.items()))


__all__ = ["EXACT", "ROUNDED", "SINCE", "SUMMED", "Op", "Tol", "ops"]
