"""The driver: KIF model → ONNX ModelProto (opset ``OPSET``) → checked → written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from kif import __version__
from kif.errors import KifError, UnsupportedLayerError
from kif.graph import Model
from kif.onnx import support
from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import table
from kif.shapes import infer

OPSET = 21
ML_OPSET = 2  # ai.onnx.ml, imported only when used: LabelEncoder-2 maps strings to int64 and back
FLAG = "overwrite=True (kif convert --force)"
EXTERNAL_DATA_THRESHOLD = 2_000_000_000  # bytes of initializers; protobuf cannot serialise a message over 2 GiB


def build(model: Model, *, opset: int = OPSET) -> onnx.ModelProto:
    """The ONNX model for ``model``; raises UnsupportedLayerError (naming the layer and type) before building anything."""
    if opset < OPSET:
        raise KifError(f"Expected opset >= {OPSET} (Gelu needs 20, GroupNormalization 21). Received: opset={opset}", code="usage")
    model = model.inlined()  # composite calls become their bodies (spec/composites.md)
    emitters = table()
    refused = [layer for layer in model.layers if layer.type not in emitters]
    if refused:
        listed = "; ".join(f"layer {layer.name!r} has type {layer.type!r}: {support.reason(layer.type)}" for layer in refused)
        raise UnsupportedLayerError(f"kif.onnx cannot export this model: {listed}", code="layer-unsupported", pointer=refused[0].name)
    weight_shapes = {name: tuple(np.shape(array)) for name, array in model.weights.items()}
    types = infer(model.inputs, model.layers, weight_shapes)
    ctx = Ctx({spec.name: types[spec.name] for spec in model.inputs}, model.weights)
    ctx.reserve(spec.name for spec in model.outputs)
    names = {spec.name: spec.name for spec in model.inputs}
    for layer in model.layers:
        ctx.layer = layer
        ctx.out_types = [types[t] for t in layer.outputs]
        outs = emitters[layer.type](ctx, layer.attributes, [None if t is None else names[t] for t in layer.inputs])
        for kif_name, onnx_name in zip(layer.outputs, outs, strict=False):
            names[kif_name] = onnx_name
            ctx.types[onnx_name] = types[kif_name]
    ctx.layer = None
    for spec in model.outputs:
        ctx.nodes.append(helper.make_node("Identity", [names[spec.name]], [spec.name], name=ctx.fresh(f"output/{spec.name}")))
    graph = helper.make_graph(
        ctx.nodes,
        model.name,
        [_value_info(spec.name, spec.dtype, spec.shape) for spec in model.inputs],
        [_value_info(spec.name, types[spec.name].dtype, types[spec.name].shape) for spec in model.outputs],
        initializer=ctx.initializers,
    )
    imports = [helper.make_opsetid("", opset)]
    if any(node.domain == "ai.onnx.ml" for node in ctx.nodes):
        imports.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    proto = helper.make_model(graph, opset_imports=imports, producer_name="kif", producer_version=__version__)
    proto.ir_version = min(proto.ir_version, 10)  # IR 10 (onnx 1.16) is read by every ONNX Runtime that has opset 21
    if model.description:
        proto.doc_string = model.description
    helper.set_model_props(proto, {"kif_version": model.document_version(), **model.metadata})
    return proto


def _value_info(name: str, dtype: str, shape: Any) -> onnx.ValueInfoProto:
    dims = [d if d is not None else ("N" if i == 0 else None) for i, d in enumerate(shape)]
    return helper.make_tensor_value_info(name, ONNX_DTYPES[dtype], dims)


def export(
    source: Model | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    opset: int = OPSET,
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD,
    overwrite: bool = False,
) -> Path:
    """Write ``source`` (a Model or a KIF bundle path) as an ONNX file at ``path``; return the path.

    Initializers totalling more than ``external_data_threshold`` bytes go to ``<name>.data`` beside the
    model (ONNX external data). The model is checked with ``onnx.checker.check_model(full_check=True)``
    before it is moved into place; on any failure nothing is left at ``path``. Each file written follows
    ``kif.safe_write``: an existing one is replaced (atomically) only with ``overwrite=True``, and the
    source bundle, a folder or a link is never replaced.
    """
    from kif.bundle.atomic import TMP_PREFIX, _discard, _fresh
    from kif.bundle.reader import load
    from kif.safe_write import check_target

    target = Path(path)
    sources = [] if isinstance(source, Model) else [source]
    target.parent.mkdir(parents=True, exist_ok=True)
    check_target(target, overwrite=overwrite, sources=sources, flag=FLAG)  # before the bundle is read
    model = source if isinstance(source, Model) else load(source)
    proto = build(model, opset=opset)
    external = sum(_nbytes(t) for t in proto.graph.initializer) > external_data_threshold
    data_name = f"{target.name}.data"
    # Every file is checked before any is written; the data file goes in first, the model last.
    files = [(data_name, check_target(target.parent / data_name, overwrite=overwrite, sources=sources, flag=FLAG))] if external else []
    files.append((target.name, check_target(target, overwrite=overwrite, sources=sources, flag=FLAG)))
    tmp = _fresh(target.parent, TMP_PREFIX, directory=True)  # same file system: the renames are atomic
    try:
        staged = tmp / target.name
        if external:
            onnx.save_model(
                proto, staged, save_as_external_data=True, all_tensors_to_one_file=True, location=data_name, size_threshold=1024
            )
        else:
            onnx.save_model(proto, staged)
        onnx.checker.check_model(str(staged), full_check=True)
        for name, replace in files:
            if (tmp / name).exists():  # no data file when every tensor is under onnx's size_threshold
                _place(tmp / name, target.parent / name, replace)
    except OSError as exc:
        raise KifError(f"Could not write the ONNX file: {exc.strerror or exc}", code="write-failed", file=str(target)) from None
    finally:
        _discard(tmp)
    return target


def _place(staged: Path, final: Path, replace: bool) -> None:
    from kif.bundle.atomic import move_noreplace
    from kif.safe_write import REFUSED

    with open(staged, "rb+") as stream:
        os.fsync(stream.fileno())
    if replace:
        os.replace(staged, final)
        return
    try:
        move_noreplace(staged, final)
    except FileExistsError:
        message = f"Refusing to write {final.name!r}: it was created by something else meanwhile"
        raise KifError(message, code=REFUSED, file=str(final)) from None


def _nbytes(tensor: onnx.TensorProto) -> int:
    return len(tensor.raw_data) if tensor.raw_data else int(np.prod(tensor.dims, dtype=np.int64)) * 4


def is_kif_bundle(path: str | os.PathLike[str]) -> bool:
    """A bundle directory, or a zip archive with a model.json member (a .keras archive has config.json instead)."""
    import zipfile

    p = Path(path)
    if p.is_dir():
        return (p / "model.json").is_file()
    if not zipfile.is_zipfile(p):
        return False
    with zipfile.ZipFile(p) as archive:
        return "model.json" in archive.namelist()
