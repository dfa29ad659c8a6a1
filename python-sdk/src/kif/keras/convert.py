"""``kif convert``: a Keras file → a KIF bundle, streaming one tensor at a time.

Nothing is written unless the whole model maps: a Lambda layer, an unknown class
or an unsupported option stops the conversion with a message naming the layer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from kif import __version__, dtypes
from kif.bundle.deferred import DeferredTensor
from kif.errors import KifError
from kif.graph import Layer, Model, TensorSpec
from kif.keras import h5direct, h5safe
from kif.keras.config_check import check_model
from kif.keras.errors import ConversionError
from kif.keras.mapping import Context, map_node
from kif.keras.op_args import renamed
from kif.keras.source import KerasSource, open_source
from kif.keras.topology import build_topology, is_op

_IO_DTYPES = (*dtypes.NAMES, "string")  # a graph input may hold strings (spec/tensors.md#strings)
_INTEGER_CONSUMERS = {"Embedding"}  # layers whose first input holds integer ids
# Keras layers that pass their input's mask on unchanged (supports_masking without compute_mask).
PASS_MASK = {
    "Dropout",
    "SpatialDropout1D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "PReLU",
    "Softmax",
    "Dense",
    "EinsumDense",
    "BatchNormalization",
    "LayerNormalization",
    "UnitNormalization",
    "RMSNormalization",
    "Rescaling",
    "Identity",
}
MERGE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}


def _deferred(dataset: Any) -> DeferredTensor:
    dtype = np.dtype(dataset.dtype).newbyteorder("<")
    dtypes.from_numpy(dtype)  # reject dtypes KIF cannot store, before anything is written
    shape = tuple(dataset.shape)
    span = h5direct.byte_range(dataset, dtype)  # stored as the array itself: written from the mapped file, no copy
    if span is not None:
        file, name = h5safe.file_label(dataset), h5safe.dataset_label(dataset)
        return DeferredTensor(dtype, shape, lambda: h5direct.load(span, dtype, shape, file, name), mapped=True)
    return DeferredTensor(dtype, shape, lambda: np.asarray(h5safe.read(dataset), dtype=dtype))


# What a config of the wrong shape raises deep in a mapper; turned into a ConversionError naming the layer.
MALFORMED = (
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    ValueError,
    ZeroDivisionError,
    OverflowError,
    NotImplementedError,
    RecursionError,
)


def _malformed(exc: BaseException, file: str, pointer: str | None, where: str) -> ConversionError:
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return ConversionError(f"{where}: the config is malformed ({detail[:200]})", code="convert-config", file=file, pointer=pointer)


def keras_to_model(source: KerasSource, *, allow_custom: bool = False, custom: Any = None) -> Model:
    """The KIF model of a Keras source; every refusal is a ConversionError naming the file and the layer.

    ``custom``: composite definitions for custom classes (a DEFS.json path or its parsed mapping, kif.keras.custom_defs).
    """
    from kif.keras import custom_defs

    try:
        return _to_model(source, allow_custom, custom if isinstance(custom, custom_defs.Definitions) else custom_defs.load(custom))
    except ConversionError:
        raise
    except KifError as exc:  # e.g. a shape rule's GraphError: same code and place, the converter's type
        raise ConversionError(exc.message, code=exc.code, file=exc.file or str(source.path), pointer=exc.pointer) from None


def _to_model(source: KerasSource, allow_custom: bool, custom: Any) -> Model:
    file = str(source.path)
    check_model(source.config, file)  # every key and type the topology builder indexes, before it does
    try:
        topology = build_topology(source.config)
    except MALFORMED as exc:
        raise _malformed(exc, file, None, "The model config") from None
    layers: list[Layer] = []
    weights: dict[str, Any] = {}
    tensor_of: dict[tuple[tuple[str, ...], str], str] = {}  # (the layer object's first save path, role) → tensor, shared by calls
    masks: dict[str, str] = {}  # tensor → the mask Keras would attach to it
    aliases, dropped = _mask_op_aliases(topology.nodes)
    composites: dict[str, Any] = {}  # composite definitions the custom classes' calls need
    type_of = _type_lookup(topology.inputs, layers, weights, composites)

    def shape_of(tensor: str) -> tuple[int | None, ...] | None:
        found = type_of(tensor)
        return None if found is None else tuple(found.shape)

    for node in topology.nodes:
        if node.name in dropped:
            continue  # a mask KIF layers already output
        node.inputs = [aliases.get(t, t) for t in node.inputs]
        node.args = renamed(node.args, aliases) if aliases else node.args
        node.kw_inputs = {k: [aliases.get(t, t) for t in v] for k, v in node.kw_inputs.items()}
        ctx = Context(
            node,
            source.generation,
            lambda n=node: source.weights.layer(n.layer_name, n.owners, n.save_path, n.save_fallback),
            allow_custom,
            masks,
            shape_of,
            type_of,
            custom,
            composites,
            source.asset,
            lambda start, integers, invert, n=node: source.lookup_vocabulary(n.layer_name, n.owners, start, integers, invert),
        )
        try:
            mapped_layers = map_node(ctx)
        except MALFORMED as exc:
            raise _malformed(exc, file, node.name, f"Layer {node.layer_name!r} ({node.class_name})") from None
        for mapped in mapped_layers:
            _propagate_mask(ctx, mapped, masks)
            roles = {}
            for role, dataset in mapped.weights.items():
                key = (node.save_fallback or node.save_path or (*node.scope, node.layer_name), role + mapped.name_suffix)
                if key not in tensor_of:
                    tensor_name = "/".join([*node.scope, node.layer_name, role + mapped.name_suffix])
                    weights[tensor_name] = dataset if isinstance(dataset, (np.ndarray, DeferredTensor)) else _deferred(dataset)
                    tensor_of[key] = tensor_name
                roles[role] = tensor_of[key]
            layers.append(Layer(node.name + mapped.name_suffix, mapped.type, mapped.attributes, mapped.inputs, mapped.outputs, roles))
    readers: dict[str, list[Layer]] = {}
    for layer in layers:
        for tensor in dict.fromkeys(t for t in layer.inputs if t is not None):
            readers.setdefault(tensor, []).append(layer)
    inputs = [TensorSpec(i.name, _input_dtype(i.name, i.dtype, readers.get(i.name, [])), tuple(i.shape)) for i in topology.inputs]
    model = Model(
        name=_model_name(source.config),
        inputs=inputs,
        outputs=[TensorSpec(name, "", ()) for name in topology.outputs],
        layers=layers,
        weights=weights,
        producer={"name": "kif-python (keras converter)", "version": __version__},
        metadata={"source_format": source.format, "source_keras_version": source.keras_version},
        composites=composites,
    )
    _infer_outputs(model)
    return model


def _mask_op_aliases(nodes: list[Any]) -> tuple[dict[str, str], set[str]]:
    """Op nodes that only recompute a mask KIF already has, as (output → KIF mask tensor, nodes to drop).

    Keras 3 writes the masks it passes implicitly as op nodes: Embedding(mask_zero=True) as
    NotEqual(ids, 0); Masking(v) as Any(NotEqual(x, v), axis=-1); a merge layer combines its inputs'
    masks with LogicalOr (LogicalAnd in attention), Attention passes one through ConvertToTensor. KIF's
    Embedding and Masking output their mask, so those ops become aliases of it; an op combining one
    mask with itself is that mask. Any other op node is left to the op mapper, which maps it or
    refuses it naming the layer.
    """
    aliases: dict[str, str] = {}
    alias_targets: set[str] = set()
    dropped: set[str] = set()
    pending: dict[str, Any] = {}  # NotEqual(x, v) output → the Masking layer it belongs to

    def alias(tensor: str, target: str) -> None:
        aliases[tensor] = target
        alias_targets.add(target)

    ops = [is_op(node) for node in nodes]
    readers: dict[str, list[Any]] = {}  # first input → the layer nodes reading it, in order (one pass, not one per op)
    for node, op in zip(nodes, ops, strict=True):
        if not op and node.inputs:
            readers.setdefault(node.inputs[0], []).append(node)
    for node, op in zip(nodes, ops, strict=True):
        if not op:
            continue
        args = [aliases.get(t, t) for t in node.inputs]
        if node.class_name == "NotEqual" and len(args) == 1 and len(node.constants) == 1:
            consumers = readers.get(args[0], [])
            embedding = next((n for n in consumers if n.class_name == "Embedding" and n.config.get("mask_zero")), None)
            masking = next(
                (n for n in consumers if n.class_name == "Masking" and n.config.get("mask_value", 0.0) == node.constants[0]), None
            )
            if embedding is not None and node.constants == [0]:
                alias(node.outputs[0], f"{embedding.outputs[0]}:1")
                dropped.add(node.name)
            elif masking is not None:
                pending[node.outputs[0]] = masking
                dropped.add(node.name)
        elif (
            node.class_name == "Any"
            and args
            and args[0] in pending
            and node.config.get("axis") in (-1, [-1])
            and not node.config.get("keepdims")
        ):
            alias(node.outputs[0], f"{pending[args[0]].outputs[0]}:1")
            dropped.add(node.name)
        elif node.class_name == "ConvertToTensor" and len(args) == 1 and args[0] in alias_targets and node.config.get("dtype") is None:
            alias(node.outputs[0], args[0])  # Attention's compute_mask passes the query mask through convert_to_tensor
            dropped.add(node.name)
        elif node.class_name in ("LogicalOr", "LogicalAnd") and len(args) == 2 and args[0] == args[1] and not node.constants:
            alias(node.outputs[0], args[0])
            dropped.add(node.name)
    return aliases, dropped


def _type_lookup(graph_inputs: list[Any], layers: list[Layer], weights: dict[str, Any], composites: dict[str, Any]) -> Any:
    """The dtype and static shape of a tensor produced so far (for the few mappings that depend on them).

    Inference is incremental: each call infers only the layers mapped since the previous call, from the
    types already known, so a model with 20,000 ExpandDims ops is inferred once overall, not once per op.
    """
    from kif.composites import inline
    from kif.layers import TensorType
    from kif.shapes import infer

    known: dict[str, TensorType] = {
        i.name: TensorType(i.dtype if i.dtype in _IO_DTYPES else "float32", tuple(i.shape)) for i in graph_inputs
    }
    done = 0

    def type_of(tensor: str) -> TensorType | None:
        nonlocal done
        fresh = inline(layers[done:], composites)[0] if composites else layers[done:]
        done = len(layers)
        needed = {t for layer in fresh for t in layer.inputs if t is not None and t in known}
        specs = [TensorSpec(t, known[t].dtype, tuple(known[t].shape)) for t in needed]
        shapes = {name: tuple(weights[name].shape) for layer in fresh for name in layer.weights.values() if name in weights}
        known.update(infer(specs, fresh, shapes, strict=False))
        return known.get(tensor)

    return type_of


def _propagate_mask(ctx: Context, mapped: Any, masks: dict[str, str]) -> None:
    if isinstance(mapped.output_mask, str):
        masks[mapped.outputs[0]] = mapped.output_mask
        return
    if mapped.output_mask is None:
        return
    found = {masks[t] for t in ctx.node.inputs if t in masks}
    if not found:
        return
    if ctx.node.class_name in PASS_MASK:
        masks[mapped.outputs[0]] = masks.get(ctx.node.inputs[0], next(iter(found)))
        if ctx.node.class_name == "Softmax" and len(mapped.inputs) == 1:
            mapped.inputs.append(masks[ctx.node.inputs[0]])  # Keras's Softmax applies the incoming mask
    elif ctx.node.class_name in MERGE:
        if (
            len(found) > 1
            or len(found & set(masks.get(t, "") for t in ctx.node.inputs)) != 1
            or any(t not in masks for t in ctx.node.inputs)
        ):
            raise ctx.fail("its inputs carry different Keras masks; combining masks is not representable in KIF 0.1")
        masks[mapped.outputs[0]] = next(iter(found))


def _input_dtype(name: str, declared: str, readers: list[Layer]) -> str:
    """Token ids are often declared float32; an input read only by Embedding layers is int32."""
    if readers and all(layer.type in _INTEGER_CONSUMERS and layer.inputs[0] == name for layer in readers):
        return declared if declared.startswith(("int", "uint")) else "int32"
    return declared if declared in _IO_DTYPES else "float32"


def _model_name(config: dict[str, Any]) -> str:
    inner = config.get("config")
    name = inner.get("name") if isinstance(inner, dict) else None
    return str(name or "model")


def _infer_outputs(model: Model) -> None:
    from kif import catalog
    from kif.shapes import infer

    weight_shapes = {n: tuple(t.shape) for n, t in model.weights.items()}
    model = model.inlined()  # composite calls infer through their bodies; the outputs' specs are shared objects
    known = infer(model.inputs, model.layers, weight_shapes)
    custom = [layer for layer in model.layers if catalog.is_custom(layer.type)]
    for _ in custom:
        # Custom layers have no shape rule: declare their outputs like their first input so the graph's
        # output metadata can be written (validators do not check what flows out of a custom layer).
        extra = [
            TensorSpec(out, known[layer.inputs[0]].dtype, known[layer.inputs[0]].shape)
            for layer in custom
            if layer.inputs and layer.inputs[0] in known
            for out in layer.outputs
            if out not in known
        ]
        if not extra:
            break
        known = infer([*model.inputs, *extra], [layer for layer in model.layers if layer not in custom], weight_shapes, strict=False)
    for spec in model.outputs:
        found = known.get(spec.name)
        if found is None:
            raise KifError(
                f"Cannot infer the type of output {spec.name!r}: a layer on its path has no shape rule",
                code="convert-unsupported",
                pointer=spec.name,
            )
        spec.dtype, spec.shape = found.dtype, found.shape


def convert(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    weights: str | os.PathLike[str] | None = None,
    allow_custom: bool = False,
    custom: Any = None,
    progress: bool | None = None,
    overwrite: bool = False,
) -> Path:
    """Convert a Keras file to a KIF bundle at ``dst`` (``.kif`` archive or directory).

    ``custom``: composite definitions for the file's custom classes (a DEFS.json path or mapping, spec/composites.md),
    tried before the built-in library of well-known third-party classes (kif.keras.builtin_composites).

    ``dst`` must not be the source; an existing bundle there is replaced only with
    ``overwrite=True``, and nothing else is ever replaced (``kif.bundle.destination``).
    """
    from kif.bundle.destination import plan

    # Before the source is opened: a refused destination costs nothing and touches nothing.
    plan(dst, overwrite=overwrite, sources=[src] if weights is None else [src, weights])
    from kif.keras import custom_defs

    definitions = custom_defs.load(custom)  # a broken definitions file is refused before the Keras file is read
    try:
        source = open_source(src, weights, meanwhile=_import_writer)
    except MALFORMED as exc:  # last resort, as below
        raise _malformed(exc, str(src), None, "The Keras file") from None
    try:
        return _convert_opened(source, src, dst, allow_custom, definitions, progress, overwrite)
    finally:
        source.close()


def _import_writer() -> None:
    """The writer's and the validator's modules, which every conversion that maps imports: run while the heap pre-scan
    of the .h5 reads the file on another core (kif.keras.h5safe.open_file), instead of after it."""
    import importlib

    for name in _WRITER_MODULES:
        importlib.import_module(name)


_WRITER_MODULES = (
    "hashlib",
    "concurrent.futures.thread",
    "kif.shapes",
    "kif.composites",
    "kif.keras._mapper_index",
    "kif.bundle.writer",
    "kif.bundle.safetensors_write",
    "kif.validate.bounds",
    "kif.validate.document",
    "kif.validate.graph_rules",
    "kif.validate.layers",
    "kif.validate.shapes",
    "kif.validate.weights",
)


def _convert_opened(
    source: KerasSource, src: Any, dst: Any, allow_custom: bool, definitions: Any, progress: bool | None, overwrite: bool
) -> Path:
    import kif
    from kif.errors import ValidationError

    try:
        model = keras_to_model(source, allow_custom=allow_custom, custom=definitions)
    except KifError as exc:
        exc.file = exc.file or str(src)
        raise type(exc)(exc.message, code=exc.code, file=exc.file, pointer=exc.pointer) from None
    except MALFORMED as exc:  # last resort: a check missed; still one error naming the file
        raise _malformed(exc, str(src), None, "The Keras file") from None
    try:
        # kif.save validates the model before writing anything: an invalid bundle is never written.
        return kif.save(model, dst, progress=progress, overwrite=overwrite)
    except ValidationError as exc:
        found = "; ".join(str(f) for f in exc.findings[:5])
        message = f"The converted bundle would be invalid (nothing was written): {found}"
        raise KifError(message, code="convert-invalid", file=str(src)) from None
