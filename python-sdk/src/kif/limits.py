"""Resource limits applied to file-controlled numbers (one source of truth).

Every place that allocates memory, extracts bytes or loops a number of times taken
from a file checks the number against one of these limits first and refuses with a
``kif`` error naming the layer or member and the size. The defaults are generous for
real models and small enough that a hostile few-KB file cannot exhaust a machine.

A limit is changed for a whole process with an environment variable
(``KIF_MAX_TENSOR_BYTES=8GiB``), or for a block of code with :func:`override`::

    with kif.limits.override(max_tensor_bytes=16 * 2**30):
        kif.run(model, inputs)

spec/limits.md documents each limit; tests/test_limits.py keeps the two in step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Iterator

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}


@dataclasses.dataclass(frozen=True)
class Limits:
    # bytes of one tensor the runtime or converter may allocate (activations, kernels, inputs)
    max_tensor_bytes: int = 4 * 1024**3
    # elements of one tensor shape; shape inference refuses larger products (and any overflow)
    max_tensor_elements: int = 2**31
    # bytes one weights file or archive member may declare
    max_weights_bytes: int = 64 * 1024**3
    # bytes of a safetensors header (the JSON between the length prefix and the data)
    max_header_bytes: int = 100 * 1024**2
    # bytes of a JSON document (model.json, a Keras config, a metadata member)
    max_document_bytes: int = 64 * 1024**2
    # nesting depth of JSON/HDF5/protobuf structures before a reader stops recursing
    max_nesting_depth: int = 64
    # layers in one graph (or one Keras functional config)
    max_layers: int = 1_000_000
    # inputs one layer may read (Concatenate/Add fan-out)
    max_layer_inputs: int = 4096
    # multiply-accumulate operations the runtime may perform for one layer (pooling windows, convolutions)
    max_layer_ops: int = 2 * 10**11
    # bytes an npz input file may expand to when decompressed
    max_npz_bytes: int = 4 * 1024**3
    # UTF-8 bytes of one element of a string tensor (a run input; see spec/tensors.md#strings)
    max_string_bytes: int = 1024**2


_FIELDS = {f.name: f for f in dataclasses.fields(Limits)}


def parse_size(text: str) -> int:
    """Parse ``"4GiB"``, ``"500MB"`` or ``"1024"`` into a count; raises ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise ValueError(f"Expected a size such as 4GiB or 1000000. Received: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _from_environment() -> Limits:
    values: dict[str, int] = {}
    for name in _FIELDS:
        raw = os.environ.get(f"KIF_{name.upper()}")
        if raw is not None:
            try:
                values[name] = parse_size(raw)
            except ValueError as error:
                from kif.errors import UsageError

                raise UsageError(f"KIF_{name.upper()}: {error}", code="usage") from None
    return Limits(**values)


_current: Limits | None = None


def current() -> Limits:
    """The limits in force: environment overrides applied once, then any :func:`override` block."""
    global _current
    if _current is None:
        _current = _from_environment()
    return _current


@contextlib.contextmanager
def override(**changes: int) -> Iterator[Limits]:
    """Apply ``changes`` (field=value) to the limits for the duration of a ``with`` block."""
    global _current
    unknown = sorted(set(changes) - set(_FIELDS))
    if unknown:
        from kif.errors import UsageError

        raise UsageError(f"Unknown limit(s) {unknown}. Expected some of: {sorted(_FIELDS)}", code="usage")
    previous = current()
    _current = dataclasses.replace(previous, **changes)
    try:
        yield _current
    finally:
        _current = previous
