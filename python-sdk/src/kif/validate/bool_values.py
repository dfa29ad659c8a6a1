"""``weights-bool-invalid``: a bool tensor's bytes are 0 or 1 (spec/tensors.md); any other byte reads differently
in NumPy, torch and ONNX Runtime."""

from __future__ import annotations

import numpy as np

from kif.bundle.container import Container
from kif.bundle.safetensors_io import Header
from kif.validate.pointer import pointer
from kif.validate.report import Report

_CHUNK = 16 * 1024 * 1024


def check_bools(container: Container, name: str, header: Header, report: Report) -> None:
    """Report each bool tensor of member ``name`` holding a byte other than 0 or 1 (at its header entry)."""
    for tensor in header.tensors.values():
        if tensor.dtype.name != "bool":
            continue
        start = header.data_start + tensor.begin
        for offset in range(0, tensor.nbytes, _CHUNK):
            chunk = np.frombuffer(container.read(name, start + offset, min(_CHUNK, tensor.nbytes - offset)), dtype=np.uint8)
            if chunk.size and int(chunk.max()) > 1:
                report.add(
                    "weights-bool-invalid",
                    f"Tensor {tensor.name!r} is bool, but holds the byte {int(chunk.max())}; expected 0 or 1",
                    container.member_label(name),
                    pointer(tensor.name),
                )
                break
