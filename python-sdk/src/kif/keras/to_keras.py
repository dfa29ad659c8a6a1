"""``kif.keras.to_keras``: a KIF graph → an equivalent Keras 3 functional model (any backend).

Every catalog type becomes the Keras layer of the same name (``GroupQueryAttention`` →
``keras.layers.GroupQueryAttention``), built from its KIF attributes, which follow Keras's
constructor arguments. Weights are in Keras layouts already (the canonical layouts of the
spec); the one regrouping is GRU's reset_after bias, whose ``bias`` and ``recurrent_bias``
rows are stacked back into Keras's ``[2, 3 * units]``. Graph inputs become ``keras.Input``
with the same names, dtypes and shapes; outputs keep the graph's order.

* Shared layers: KIF layers of one type with equal attributes that use the same weight
  tensors become one Keras layer called several times.
* Masks: KIF's explicit mask inputs are passed as ``mask=`` / ``query_mask=`` … at the
  call, so Keras sees exactly the masks KIF does. Mask outputs (Embedding ``mask_zero``,
  Masking) are the mask Keras attaches to the layer's output. Where Keras would apply an
  implicit mask that the KIF layer does not take, the tensor is passed through a
  ``kif>DropMask`` layer (``kif.keras.drop_mask``), which the exporter maps to nothing. A masked
  GlobalMaxPooling1D (Keras's takes no mask) is ``kif>GlobalMaxPooling1D`` (``kif.keras.pooling_same``).
* Call-time attributes (``use_causal_mask``, ``return_attention_scores``) are call arguments.
* Activations Keras 3 has no name for are registered functions: ``gelu_tanh`` →
  ``kif>gelu_tanh`` (``gelu(x, approximate=True)``), ``hard_sigmoid_keras2`` →
  ``kif>hard_sigmoid_keras2`` (``clip(0.2 x + 0.5, 0, 1)``); ``sparsemax`` is ``kif>sparsemax``
  (Keras 3.15's own is wrong when more than one element is in the support, keras#23425); a saved ``.keras`` file using them
  needs ``kif.keras.to_keras.register_keras_objects()`` before ``keras.models.load_model``.

* AveragePooling with ``padding="same"``: Keras on torch pads unevenly by replicating edge
  values and counts the padded cells, where KIF (TensorFlow's rule) excludes them. to_keras
  builds it as a subclass of the Keras layer (``kif.keras.pooling_same``) that zero-pads,
  averages and divides by the real cells: exact on every backend and for any input size, and
  exported back (``kif.keras.export``) as the same KIF layer.

* Primitive ops (``op.*``) are ``keras.ops`` calls on the Keras tensors, which Keras 3 records as op nodes: one row
  per op in ``kif.keras.to_keras_ops``, composing where keras.ops departs from the KIF definition.
* Composites are inlined first (``Model.inlined``, as the runtime and the torch/ONNX importers do): the Keras model
  holds their bodies.

Namespaced custom types (``vendor:Type``) that are not composites of the document have no Keras class here and stop
the build with an error.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from kif._optional import require
from kif.errors import KifError, UnsupportedLayerError
from kif.graph import Layer, Model
from kif.keras import encoding_rebuild
from kif.keras.to_keras_weights import set_layer_weights

# Keras-backend behaviour that departs from the KIF definition (type → why): none left.
KNOWN_DIFFERENCES: dict[str, str] = {}

_CALL_TIME = ("use_causal_mask", "return_attention_scores")
_RNN = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1, "ConvLSTM1D": 2, "ConvLSTM2D": 2, "ConvLSTM3D": 2}  # states per type
_MERGE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"}
_ACTIVATION_KEYS = ("activation", "recurrent_activation")


def _registered_activations() -> dict[str, Callable[[Any], Any]]:
    """KIF activations with no Keras 3 name, as Keras-serializable functions (registered once)."""
    import keras

    names = ("gelu_tanh", "hard_sigmoid_keras2", "sparsemax")
    if keras.saving.get_registered_object("kif>gelu_tanh") is not None:
        return {name: keras.saving.get_registered_object(f"kif>{name}") for name in names}

    @keras.saving.register_keras_serializable(package="kif", name="gelu_tanh")
    def gelu_tanh(x: Any) -> Any:
        return keras.activations.gelu(x, approximate=True)

    @keras.saving.register_keras_serializable(package="kif", name="hard_sigmoid_keras2")
    def hard_sigmoid_keras2(x: Any) -> Any:
        return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)  # Keras 2's hard_sigmoid

    @keras.saving.register_keras_serializable(package="kif", name="sparsemax")
    def sparsemax(x: Any) -> Any:
        # The definition (spec/layers/activations.md); Keras <= 3.15's own is wrong for supports of more than
        # one element (keras-team/keras#23425). The converter reads kif>sparsemax back as sparsemax.
        ops = keras.ops
        z = x - ops.max(x, axis=-1, keepdims=True)
        ordered = ops.flip(ops.sort(z, axis=-1), axis=-1)
        k = ops.cast(ops.arange(1, ops.shape(z)[-1] + 1), z.dtype)
        support = ops.cast(ordered - (ops.cumsum(ordered, axis=-1) - 1) / k > 0, z.dtype)
        tau = (ops.sum(ordered * support, axis=-1, keepdims=True) - 1) / ops.sum(support, axis=-1, keepdims=True)
        return ops.maximum(z - tau, 0)

    return {"gelu_tanh": gelu_tanh, "hard_sigmoid_keras2": hard_sigmoid_keras2, "sparsemax": sparsemax}


def _activation(name: str) -> Any:
    return _registered_activations().get(name, name)


def _keras_class(kif_type: str) -> Any:
    import keras

    cls = getattr(keras.layers, kif_type, None)
    if cls is None:
        raise UnsupportedLayerError(f"KIF type {kif_type!r} has no Keras 3 layer class", code="layer-unsupported")
    return cls


def _kwargs(kif_type: str, attrs: dict[str, Any], name: str | None) -> dict[str, Any]:
    """KIF attributes → constructor arguments (call-time attributes left out)."""
    kwargs: dict[str, Any] = {}
    for key, value in attrs.items():
        if key in _CALL_TIME:
            continue
        kwargs[key] = _activation(value) if key in _ACTIVATION_KEYS else value
    if kif_type == "Normalization":
        kwargs["axis"] = tuple(attrs["axis"]) if attrs["axis"] else None
    if name is not None:
        kwargs["name"] = name
    return kwargs


def _make_layer(
    kif_type: str, attrs: dict[str, Any], name: str | None, dtype: str | None = None, masked: bool = False, integer: bool = False
) -> Any:
    """A Keras layer (not built) for one KIF type and its attributes; ``dtype``: its dtype policy when not float32;
    ``masked``: the KIF layer has a mask input; ``integer``: its input is an integer tensor."""
    extra = {"dtype": dtype} if dtype else {}
    if kif_type == "Bidirectional":
        forward = _make_layer(attrs["forward"]["type"], attrs["forward"]["attributes"], None, dtype)
        backward = _make_layer(attrs["backward"]["type"], attrs["backward"]["attributes"], None, dtype)
        return _keras_class("Bidirectional")(forward, backward_layer=backward, merge_mode=attrs["merge_mode"], name=name, **extra)
    if kif_type == "TimeDistributed":
        inner = attrs["layer"]
        return _keras_class("TimeDistributed")(_make_layer(inner["type"], inner["attributes"], None, dtype), name=name, **extra)
    if kif_type == "Augmentation":
        from kif.keras.augment_rebuild import augmentation_layer

        return augmentation_layer(attrs, name, extra)
    if kif_type in ("Discretization", "IntegerLookup"):
        return encoding_rebuild.rebuild(kif_type, attrs, name, extra)
    if kif_type == "TextVectorization":
        from kif.keras.text_rebuild import text_vectorization_layer

        return text_vectorization_layer(attrs, name)
    if kif_type in ("LocallyConnected1D", "LocallyConnected2D"):  # Keras 3 removed them: kif> layers of the same name
        from kif.keras.locally_connected_keras import locally_connected_class

        return locally_connected_class(kif_type)(**_kwargs(kif_type, attrs, name), **extra)
    cls = _keras_class(kif_type)
    from kif.keras.to_keras_exact import exact_class

    cls = exact_class(kif_type, attrs, integer=integer, masked=masked) or cls
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*rms_scaling.*")  # deprecated in Keras, still a KIF attribute
        return cls(**_kwargs(kif_type, attrs, name), **extra)


def _check_bidirectional_masking(layer: Layer) -> None:
    """Keras's Bidirectional forces zero_output_for_mask = return_sequences on both sides; other values are not expressible."""
    for side in ("forward", "backward"):
        inner = layer.attributes[side]["attributes"]
        if inner["zero_output_for_mask"] != inner["return_sequences"]:
            raise KifError(
                f"Layer {layer.name!r} (Bidirectional): Keras forces zero_output_for_mask = return_sequences on both sides. "
                f"Received: {side} zero_output_for_mask={inner['zero_output_for_mask']} with a mask input",
                code="layer-unsupported",
                pointer=layer.name,
            )


def _mask_of(x: Any) -> Any:
    """The mask Keras attached to a tensor (what keras.src.backend.get_keras_mask reads)."""
    return getattr(x, "_keras_mask", None)


# --- graph -----------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, model: Model) -> None:
        import keras

        self.keras = keras
        self.model = model
        self.tensors: dict[str, Any] = {}
        self.names: set[str] = set()
        self.shared: dict[str, Any] = {}
        self.unmasked_of: dict[int, Any] = {}  # id(Keras tensor) → that tensor without its mask (one DropMask per tensor)

    def name(self, wanted: str) -> str:
        """Keras forbids '/' in names; ':' and other characters are replaced too, keeping names unique."""
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", wanted) or "layer"
        name, index = base, 1
        while name in self.names:
            name, index = f"{base}_{index}", index + 1
        self.names.add(name)
        return name

    def build(self) -> Any:
        keras = self.keras
        inputs = []
        for spec in self.model.inputs:
            shape = tuple(spec.shape)
            kt = keras.Input(shape=shape[1:], batch_size=shape[0] if shape else None, dtype=spec.dtype, name=self.name(spec.name))
            self.tensors[spec.name] = kt
            inputs.append(kt)
        for layer in self.model.layers:
            self.layer(layer)
        outputs = [self.tensors[spec.name] for spec in self.model.outputs]
        return keras.Model(
            inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0], name=self.name(self.model.name)
        )

    def arg(self, layer: Layer, slot: int) -> Any:
        tensor = layer.inputs[slot] if slot < len(layer.inputs) else None
        return None if tensor is None else self.tensors[tensor]

    def unmasked(self, x: Any) -> Any:
        """``x`` without the mask Keras attached to it (for a KIF layer that takes no mask there)."""
        if x is None or _mask_of(x) is None:
            return x
        if id(x) not in self.unmasked_of:
            from kif.keras.drop_mask import drop_mask_class

            self.unmasked_of[id(x)] = drop_mask_class()(name=self.name("kif.drop_mask"))(x)
        return self.unmasked_of[id(x)]

    def keras_layer(self, layer: Layer) -> tuple[Any, bool]:
        """The Keras layer for ``layer`` and whether it is new (shared weights → the same Keras layer)."""
        key = json.dumps([layer.type, layer.attributes, sorted(layer.weights.items())], sort_keys=True, default=str)
        if layer.weights and key in self.shared:
            return self.shared[key], False
        if layer.type in ("Hashing", "HashedCrossing", "StringLookup"):
            from kif.keras.text_rebuild import text_layer

            return text_layer(layer, self.model.weights, self.name(layer.name)), False  # idf weights set at construction
        first = self.arg(layer, 0)
        # KIF computes in the input's floating dtype (weights cast to it); Keras layers default to float32
        dtype = str(first.dtype) if first is not None and str(first.dtype) in ("float16", "bfloat16", "float64") else None
        try:
            integer = first is not None and "int" in str(first.dtype)
            masked = self.arg(layer, 1) is not None
            made = _make_layer(layer.type, layer.attributes, self.name(layer.name), dtype, masked=masked, integer=integer)
        except (TypeError, ValueError) as exc:
            raise KifError(f"Layer {layer.name!r} ({layer.type}): Keras refused its attributes: {exc}", code="layer-unsupported") from None
        if layer.weights:
            self.shared[key] = made
        return made, True

    def layer(self, layer: Layer) -> None:
        from kif import catalog

        if catalog.is_custom(layer.type):
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} has custom type {layer.type!r}, which has no Keras layer: to_keras builds catalog types only",
                code="layer-unsupported",
                pointer=layer.name,
            )
        catalog.get(layer.type)  # unknown types fail with the list of known ones
        if layer.type.startswith(catalog.OP_PREFIX):
            self.op(layer)
            return
        keras_layer, new = self.keras_layer(layer)
        result = self.call(keras_layer, layer)
        outs = list(result) if isinstance(result, (list, tuple)) else [result]
        if layer.type in ("Embedding", "Masking"):
            outs.append(_mask_of(outs[0]))
        if len(outs) < len(layer.outputs) or any(o is None for o in outs[: len(layer.outputs)]):
            raise KifError(
                f"Layer {layer.name!r} ({layer.type}): Keras gave {len(outs)} outputs for {len(layer.outputs)}", code="run-failed"
            )
        self.tensors.update(zip(layer.outputs, outs[: len(layer.outputs)], strict=True))
        if layer.type == "LayerNormalization" and new and isinstance(layer.attributes["axis"], int):
            keras_layer.axis = layer.attributes["axis"]  # build() rewrote it as [axis]: keep KIF's spelling in the config
        if new:
            values = {role: np.asarray(self.model.weights[tensor]) for role, tensor in layer.weights.items()}
            set_layer_weights(keras_layer, layer.type, layer.attributes, values, f"Layer {layer.name!r} ({layer.type})")

    def op(self, layer: Layer) -> None:
        """A primitive op: keras.ops calls (kif.keras.to_keras_ops), recorded by Keras as op nodes."""
        from kif.keras.to_keras_ops import emit

        inputs = [self.unmasked(self.tensors[t]) for t in layer.inputs if t is not None]
        weights = {role: np.asarray(self.model.weights[tensor]) for role, tensor in layer.weights.items()}
        anchor = self.tensors[self.model.inputs[0].name]
        outs = emit(self.keras, layer, inputs, weights, anchor, self.name(layer.name))
        self.tensors.update(zip(layer.outputs, outs, strict=True))

    def call(self, keras_layer: Any, layer: Layer) -> Any:
        kif_type, attrs = layer.type, layer.attributes
        if kif_type in _MERGE or kif_type == "HashedCrossing":
            return keras_layer([self.tensors[t] for t in layer.inputs if t is not None])
        if kif_type in _RNN or kif_type == "Bidirectional":
            states = _RNN[kif_type] if kif_type in _RNN else sum(_RNN[attrs[s]["type"]] for s in ("forward", "backward"))
            x, mask = self.arg(layer, 0), self.arg(layer, 1 + states)
            if kif_type == "Bidirectional" and mask is not None:
                _check_bidirectional_masking(layer)
            initial = [self.arg(layer, 1 + i) for i in range(states)]
            kwargs: dict[str, Any] = {}
            if any(s is not None for s in initial):
                kwargs["initial_state"] = initial
            if mask is None:
                x = self.unmasked(x)
            else:
                kwargs["mask"] = mask
            return keras_layer(x, **kwargs)
        if kif_type in ("Attention", "AdditiveAttention"):
            q, v, k = (self.arg(layer, i) for i in range(3))
            q_mask, v_mask = self.arg(layer, 3), self.arg(layer, 4)
            tensors = [self.unmasked(q), self.unmasked(v)] + ([self.unmasked(k)] if k is not None else [])
            kwargs = {flag: attrs[flag] for flag in _CALL_TIME}
            if q_mask is not None or v_mask is not None:
                kwargs["mask"] = [q_mask, v_mask]
            return keras_layer(tensors, **kwargs)
        if kif_type in ("MultiHeadAttention", "GroupQueryAttention"):
            q, v, k = (self.arg(layer, i) for i in range(3))
            masks = {name: self.arg(layer, 3 + i) for i, name in enumerate(("query_mask", "value_mask", "key_mask", "attention_mask"))}
            kwargs = {flag: attrs[flag] for flag in _CALL_TIME}
            query_mask = masks.pop("query_mask") if kif_type == "MultiHeadAttention" else None
            kwargs.update({name: m for name, m in masks.items() if m is not None})
            if query_mask is not None and _mask_of(q) is query_mask:
                pass  # Keras 3's MultiHeadAttention reads the query mask only from the mask attached to the query
            elif query_mask is not None:
                q = self.unmasked(q)
                rows = self.keras.ops.expand_dims(query_mask, -1)  # [N, T, 1]: ANDed with the other masks, as KIF does
                given = kwargs.get("attention_mask")
                kwargs["attention_mask"] = rows if given is None else self.keras.ops.logical_and(rows, given)
            else:
                q = self.unmasked(q)
            return keras_layer(q, self.unmasked(v), key=self.unmasked(k), **kwargs)
        if kif_type in ("Softmax", "GlobalAveragePooling1D", "GlobalMaxPooling1D"):
            x, mask = self.arg(layer, 0), self.arg(layer, 1)
            if mask is None:
                return keras_layer(self.unmasked(x))
            return keras_layer(x, mask=mask)  # GlobalMaxPooling1D: kif>GlobalMaxPooling1D, which takes the mask
        if kif_type == "CategoryEncoding" and self.arg(layer, 1) is not None:
            return keras_layer(self.arg(layer, 0), count_weights=self.arg(layer, 1))
        return keras_layer(self.arg(layer, 0))


def register_keras_objects() -> None:
    """Register every ``kif>`` Keras object to_keras builds, so ``keras.models.load_model`` reads a saved rebuilt model."""
    from kif.keras.drop_mask import drop_mask_class
    from kif.keras.mel_exact import mel_spectrogram_exact
    from kif.keras.pooling_int import max_pooling_integer
    from kif.keras.pooling_same import average_pooling_same, global_max_pooling_masked
    from kif.keras.resize_exact import resizing_exact
    from kif.keras.to_keras_objects import constant_class, op_class

    _registered_activations()
    constant_class(), op_class()
    drop_mask_class()
    mel_spectrogram_exact()
    global_max_pooling_masked()
    resizing_exact()
    from kif.keras.upsampling_exact import upsampling_exact

    upsampling_exact()
    from kif.keras.clahe_exact import clahe_exact

    clahe_exact()
    from kif.keras.locally_connected_keras import locally_connected_class

    for kind in ("LocallyConnected1D", "LocallyConnected2D"):
        locally_connected_class(kind)
    for rank in (1, 2, 3):
        average_pooling_same(f"AveragePooling{rank}D")
        max_pooling_integer(f"MaxPooling{rank}D")


def to_keras(bundle_or_model: Model | str | os.PathLike[str]) -> Any:
    """An equivalent Keras 3 functional model of a KIF bundle (path) or in-memory ``kif.Model``.

    Layer weights are copied; the returned model predicts what ``kif.run`` computes, within the
    float32 tolerances of the layer types (exceptions: ``KNOWN_DIFFERENCES``).
    """
    require("keras", "kif.keras.to_keras")  # one line with the install command instead of a traceback
    model = bundle_or_model
    if not isinstance(model, Model):
        from kif.bundle.reader import load

        model = load(model)
    return _Builder(model.inlined()).build()  # composite calls become their bodies (spec/composites.md)


class KerasBackend:
    """to_keras as a conformance backend: ``load(bundle)`` builds the Keras model; the session calls it in inference mode.

    ``python conformance/runner/kif_conformance.py --backend kif.keras.to_keras:KerasBackend``
    """

    name = "keras"

    def __init__(self) -> None:
        # Keras 3 defaults to its TensorFlow backend, which KIF never installs; torch is the one kif[test] brings.
        # An explicit KERAS_BACKEND (or an already imported keras) wins.
        os.environ.setdefault("KERAS_BACKEND", "torch")

    def load(self, bundle_path: str | os.PathLike[str]) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
        keras = require("keras", "the Keras backend")

        from kif.bundle.reader import load
        from kif.dtypes import by_name

        graph = load(bundle_path)
        model = to_keras(graph)

        def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            args = [np.asarray(inputs[s.name], dtype=None if s.dtype == "string" else by_name(s.dtype).numpy) for s in graph.inputs]
            out = model(args if len(args) > 1 else args[0], training=False)
            outs = out if isinstance(out, (list, tuple)) else [out]
            return {s.name: np.asarray(keras.ops.convert_to_numpy(o)) for s, o in zip(graph.outputs, outs, strict=True)}

        return run


def supported_types() -> list[str]:
    """Catalog types ``to_keras`` builds (every catalog type with a Keras 3 layer class, and the ops with a row in
    ``kif.keras.to_keras_ops.TABLE``)."""
    import keras

    from kif import catalog
    from kif.keras.text_rebuild import TEXT_TYPES, tensorflow_present
    from kif.keras.to_keras_ops import TABLE

    rebuilt = ("Augmentation", "LocallyConnected1D", "LocallyConnected2D")  # no keras.layers class of that name
    built = [t for t in catalog.catalog() if getattr(keras.layers, t, None) is not None or t in rebuilt or t in TABLE]
    tf_only = (*TEXT_TYPES, *encoding_rebuild.TF_ONLY)  # Keras runs those on TF ops
    return built if tensorflow_present() else [t for t in built if t not in tf_only]


__all__ = ["KNOWN_DIFFERENCES", "KerasBackend", "register_keras_objects", "supported_types", "to_keras"]
