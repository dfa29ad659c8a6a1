"""The reference kernels of the primitive ops (spec/ops/index.md), registered from the op table (``kif.ops``):
each row's kernel class is specialised to the row and registered under ``op.<name>``."""

from __future__ import annotations

from kif.layers.registry import register_layer
from kif.ops import ops

for _op in ops().values():
    register_layer(_op.type)(type(f"Op_{_op.name}", (_op.kernel,), {"op": _op}))
