"""Keras layer configs → KIF layers: the generic rule and the table of exceptions.

The generic rule: a Keras class maps to the KIF type of the same name; each KIF
attribute is read from the Keras config key of the same name (tuples normalised,
activation names translated per Keras generation), absent keys take the schema's
default; keys KIF does not know must be training-only (listed in IGNORED) or hold
a value with no effect at inference, otherwise the conversion stops and names the
layer, the key and the value. Weights are matched to roles by their stored names
where the file has them, else by Keras's order (KERAS_WEIGHT_ORDER).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kif import catalog
from kif.errors import KifError
from kif.keras.errors import ConversionError
from kif.keras.topology import Node, is_op
from kif.keras.weights import LayerWeights

# Config keys with no meaning at inference (training, initialisation, bookkeeping).
IGNORED = {
    "name",
    "trainable",
    "dtype",
    "dtype_policy",
    "batch_input_shape",
    "batch_shape",
    "input_shape",
    "input_dim_legacy",
    "activity_regularizer",
    "build_config",
    "seed",
    "unroll",
    "implementation",
    "input_length",
    "autocast",
    "sparse",
    "ragged",
    "synchronized",
    "unit_forget_bias",
    "quantization_config",
    "lora_rank",
    "lora_alpha",
    "gradient_checkpointing",
    "momentum",
    "renorm_clipping",
    "renorm_momentum",
    "virtual_batch_size",
    "adjustment",
    "query_shape",
    "key_shape",
    "value_shape",
    "flash_attention",
    "input_dim",
    "noise_shape",
}
_TRAINING_SUFFIXES = ("_initializer", "_regularizer", "_constraint")

# Options whose listed value means "no effect"; any other value cannot be represented.
NEUTRAL: dict[str, Any] = {
    "stateful": False,
    "dropout": None,  # dropout of RNN inputs or attention weights: a no-op at inference whatever its value
    "recurrent_dropout": None,
    "time_major": False,
    "renorm": False,
    "fused": None,
    "groups": 1,  # tf.keras 2.x wrote groups: 1 on layers that never had groups
    "fill_mode": "constant",  # Resizing pads with fill_value; Keras supports no other mode there
    "softmax_robust_masking": False,  # tf.keras MultiHeadAttention: False is the standard masking
}

# Keras's own order of each class's weights (as in layer.weights).
KERAS_WEIGHT_ORDER: dict[str, list[str]] = {
    "Dense": ["kernel", "bias"],
    "BatchNormalization": ["gamma", "beta", "moving_mean", "moving_variance"],
    "LayerNormalization": ["gamma", "beta"],
    "GroupNormalization": ["gamma", "beta"],
    "Embedding": ["embeddings"],
    "PReLU": ["alpha"],
    "DepthwiseConv1D": ["depthwise_kernel", "bias"],
    "DepthwiseConv2D": ["depthwise_kernel", "bias"],
    "SeparableConv1D": ["depthwise_kernel", "pointwise_kernel", "bias"],
    "SeparableConv2D": ["depthwise_kernel", "pointwise_kernel", "bias"],
    "SimpleRNN": ["kernel", "recurrent_kernel", "bias"],
    "LSTM": ["kernel", "recurrent_kernel", "bias"],
    "GRU": ["kernel", "recurrent_kernel", "bias"],
}
for _conv in ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
    KERAS_WEIGHT_ORDER[_conv] = ["kernel", "bias"]

# Class names that changed between generations or have aliases.
CLASS_ALIASES = {
    "Convolution1D": "Conv1D",
    "Convolution2D": "Conv2D",
    "Convolution3D": "Conv3D",
    "Conv2DTranspose": "Conv2DTranspose",
    "Deconvolution2D": "Conv2DTranspose",
    "MaxPool1D": "MaxPooling1D",
    "MaxPool2D": "MaxPooling2D",
    "MaxPool3D": "MaxPooling3D",
    "AvgPool1D": "AveragePooling1D",
    "AvgPool2D": "AveragePooling2D",
    "AvgPool3D": "AveragePooling3D",
    "GlobalMaxPool1D": "GlobalMaxPooling1D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "GlobalMaxPool3D": "GlobalMaxPooling3D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalAvgPool3D": "GlobalAveragePooling3D",
    "SeparableConvolution1D": "SeparableConv1D",
    "SeparableConvolution2D": "SeparableConv2D",
    "Convolution1DTranspose": "Conv1DTranspose",
    "Convolution2DTranspose": "Conv2DTranspose",
    "Convolution3DTranspose": "Conv3DTranspose",
    "GroupedQueryAttention": "GroupQueryAttention",
    "SyncBatchNormalization": "BatchNormalization",  # tf.keras.layers.experimental (TF 2.2-2.x): moving statistics at inference
}


@dataclass
class MappedLayer:
    type: str
    attributes: dict[str, Any]
    inputs: list[str | None]
    outputs: list[str]
    weights: dict[str, Any] = field(default_factory=dict)  # role → h5py dataset or array
    name_suffix: str = ""
    output_mask: str | bool | None = False  # False: propagate by the class's rule; None: no mask; str: this tensor


@dataclass
class Context:
    node: Node
    generation: int
    load_weights: Callable[[], LayerWeights]
    allow_custom: bool = False
    masks: dict[str, str] = field(default_factory=dict)  # tensor → the bool mask Keras attaches to it
    shape_of: Callable[[str], tuple[int | None, ...] | None] = lambda tensor: None  # static shape of a tensor mapped so far
    type_of: Callable[[str], Any] = lambda tensor: None  # its TensorType (dtype and shape), or None
    custom: Any = None  # kif.keras.custom_defs.Definitions: composites for custom classes (--custom, the built-in library)
    composites: dict[str, Any] = field(default_factory=dict)  # the model's composite definitions, filled as layers map
    asset: Callable[[str], bytes | None] = lambda member: None  # a .keras archive's assets/<member> (bounded), None if absent
    # a SavedModel lookup layer's vocabulary from its table: (first index, integer tokens?, invert?) -> tokens or None
    table: Callable[[int, bool, bool], list[Any] | None] = lambda start, integers, invert: None

    def mask_of(self, tensor: str | None) -> str | None:
        return self.masks.get(tensor) if tensor is not None else None

    def output(self, index: int) -> str:
        base = self.node.outputs[0]
        return base if index == 0 else f"{base}:{index}"

    @property
    def config(self) -> dict[str, Any]:
        return self.node.config

    def fail(self, why: str) -> KifError:
        return ConversionError(
            f"Layer {self.node.layer_name!r} ({self.node.class_name}): {why}",
            code="convert-unsupported",
            pointer=self.node.name,
        )


def activation_name(value: Any, ctx: Context) -> str:
    """A Keras activation (string or serialized object) → a KIF activation name."""
    if isinstance(value, dict):
        config = value.get("config")
        if value.get("class_name") == "function":
            # Keras 3 writes built-in functions as {"config": {"name": …}} and registered ones as {"config": "pkg>name"}.
            value = config.get("name") if isinstance(config, dict) else config
        else:
            value = value.get("class_name")
    if value is None:
        return "linear"
    name = str(value)
    if name.startswith("kif>"):
        name = name[len("kif>") :]  # activations kif.keras.to_keras registers under the kif> package
    if name == "hard_sigmoid" and ctx.generation == 2:
        return "hard_sigmoid_keras2"  # Keras 2: clip(0.2x + 0.5); Keras 3: relu6(x + 3) / 6
    name = {"swish": "silu", "hard_swish": "hard_silu", "softmax_v2": "softmax"}.get(name, name)
    if name == "threshold":  # keras.activations.threshold(x, threshold, default_value): no defaults, not callable by name
        raise ctx.fail("activation 'threshold' needs threshold= and default_value=, which an activation name cannot carry")
    if name not in _activation_enum():
        raise ctx.fail(f"activation {name!r} has no KIF equivalent")
    return name


def _activation_enum() -> list[str]:
    from kif import schemas

    enum: list[str] = schemas.one("common.schema.json")["$defs"]["activation"]["enum"]
    return enum


def _fit(value: Any, spec: dict[str, Any]) -> Any:
    """Normalise a Keras value to the schema's shape: an int where an array of n ints is expected, tuples as lists."""
    if isinstance(value, tuple):
        value = list(value)
    ref = spec.get("$ref", "")
    if (spec.get("type") == "integer" or ref.endswith("/axis")) and isinstance(value, list) and len(value) == 1:
        return value[0]  # tf.keras 2.x wrote BatchNormalization(axis=3) as [3]
    match = re.search(r"ints_(\d)$", ref)
    length = (
        int(match.group(1))
        if match
        else spec.get("minItems")
        if spec.get("type") == "array" and spec.get("minItems") == spec.get("maxItems")
        else None
    )
    if length and isinstance(value, int) and not isinstance(value, bool):
        return [value] * int(length)
    return value


def _vouched(kif_type: str, attrs: dict[str, Any]) -> bool:
    """Certainly valid (jsonschema-rs said so): then jsonschema, slow to import, is not needed to find the problem."""
    from kif.validate import rs_schema

    return rs_schema.vouches(catalog.schema_path(kif_type), attrs)


def generic_attributes(
    ctx: Context, kif_type: str, renames: dict[str, str] | None = None, extra_ignored: set[str] | None = None
) -> dict[str, Any]:
    definition = catalog.get(kif_type)
    config = dict(ctx.config)
    for old, new in (renames or {}).items():
        if old in config:
            config.setdefault(new, config.pop(old))
    attrs: dict[str, Any] = {}
    for name, spec in definition.attributes.items():
        if name in config and config[name] is None and spec.get("default") is not None:
            attrs[name] = spec["default"]  # Keras's None for "not set" is spelled out in KIF (e.g. PReLU shared_axes [])
        elif name in config:
            value = config[name]
            attrs[name] = activation_name(value, ctx) if "activation" in name else _fit(value, spec)
        elif "default" in spec:
            attrs[name] = spec["default"]
        else:
            raise ctx.fail(f"config lacks {name!r}, which KIF {kif_type} requires")
    ignored = IGNORED | (extra_ignored or set())
    for key, value in config.items():
        if key in attrs or key in ignored or key.endswith(_TRAINING_SUFFIXES):
            continue
        if key in NEUTRAL and (NEUTRAL[key] is None or NEUTRAL[key] == value or value is None):
            continue
        raise ctx.fail(f"option {key}={value!r} cannot be represented in KIF {kif_type}")
    problem = None if _vouched(kif_type, attrs) else next(iter(definition.validator.iter_errors(attrs)), None)
    if problem is not None:  # e.g. Resizing(interpolation="bicubic"): a value outside what the catalog defines
        where = "/".join(str(p) for p in problem.absolute_path) or "attributes"
        raise ctx.fail(f"option {where}={problem.instance!r} cannot be represented in KIF {kif_type}: {problem.message}")
    return attrs


def assign_weights(ctx: Context, kif_type: str, attrs: dict[str, Any], order: list[str] | None = None) -> dict[str, Any]:
    """Match the layer's stored weights to the KIF roles its attributes require."""
    definition = catalog.get(kif_type)
    required = definition.required_weights(attrs)
    if not required:
        return {}
    stored = ctx.load_weights()
    order = [r for r in (order or KERAS_WEIGHT_ORDER.get(kif_type, list(definition.weights))) if r in required]
    names = stored.short_names()
    if len(stored) != len(order):
        raise ctx.fail(f"expected {len(order)} weights ({', '.join(order)}). Received: {len(stored)} in the weights file")
    by_name = {n: ds for n, (_, ds) in zip(names, stored.items, strict=False)}
    if set(order) <= set(by_name):
        return {role: by_name[role] for role in order}
    return {role: ds for role, (_, ds) in zip(order, stored.items, strict=False)}


Mapper = Callable[[Context], list[MappedLayer]]
MAPPERS: dict[str, Mapper] = {}
# Class name → the modules whose @mapper registered it, in import order (kif.keras.mapper_index builds
# _mapper_index.py from it: map_node imports only the module a class needs).
REGISTERED_BY: dict[str, list[str]] = {}


def mapper(*class_names: str) -> Callable[[Mapper], Mapper]:
    def decorate(fn: Mapper) -> Mapper:
        for name in class_names:
            MAPPERS[name] = fn
            modules = REGISTERED_BY.setdefault(name, [])
            if fn.__module__ not in modules:
                modules.append(fn.__module__)
        return fn

    return decorate


def registered_mapper(class_name: str) -> Mapper | None:
    """The mapper registered for ``class_name``, its module imported on first use; None for the generic rule."""
    found = MAPPERS.get(class_name)
    if found is None:
        from kif.keras._mapper_index import MODULES

        module = MODULES.get(class_name)
        if module is None:
            return None
        importlib.import_module(f"kif.keras.{module}")
        found = MAPPERS.get(class_name)
    return found


def map_generic(ctx: Context) -> list[MappedLayer]:
    """Same-name KIF type, generic attributes, weights by name or Keras order."""
    kif_type = CLASS_ALIASES.get(ctx.node.class_name, ctx.node.class_name)
    attrs = generic_attributes(ctx, kif_type)
    weights = assign_weights(ctx, kif_type, attrs)
    return [MappedLayer(kif_type, attrs, list(ctx.node.inputs), list(ctx.node.outputs), weights)]


def map_node(ctx: Context) -> list[MappedLayer]:
    class_name = ctx.node.class_name
    if is_op(ctx.node):  # keras.ops calls share class names with layers (Add, Concatenate, Reshape…) but not their meaning
        from kif.keras.op_nodes import map_op

        return map_op(ctx)
    registered = ctx.node.registered_name or ""
    if ">" in registered and not registered.startswith(("keras>", "kif>")):  # a custom class, whatever it is called
        found = _custom_entries(ctx)
        if found:
            from kif.keras.composite_mapper import map_composite

            return map_composite(ctx, found)
    found = registered_mapper(class_name)
    if found is not None:
        return found(ctx)
    kif_type = CLASS_ALIASES.get(class_name, class_name)
    if kif_type in catalog.catalog():
        return map_generic(ctx)
    if class_name == "Lambda":
        from kif.keras.lambda_defs import map_lambda

        return map_lambda(ctx)
    if class_name in ("TFOpLambda", "SlicingOpLambda"):
        raise ctx.fail(f"a TensorFlow op node ({ctx.config.get('function', '?')}) with no KIF mapping; rebuild the model with Keras layers")
    entries = _custom_entries(ctx)
    if entries:
        from kif.keras.composite_mapper import map_composite

        return map_composite(ctx, entries)
    if ctx.allow_custom:
        from kif.keras.layer_mappers import map_custom

        return map_custom(ctx)
    raise ctx.fail(
        "unknown layer class; if it is a custom layer, give its composite definition with --custom DEFS.json "
        "(spec/composites.md), or --allow-custom keeps it as an opaque namespaced custom type"
    )


def _custom_entries(ctx: Context) -> Any:
    from kif.keras.custom_defs import Definitions, lookup

    return lookup(ctx.custom or Definitions(), ctx.node.class_name, ctx.node.registered_name)
