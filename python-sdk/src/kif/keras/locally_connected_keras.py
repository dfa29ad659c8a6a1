"""LocallyConnected1D/2D as to_keras builds them: Keras 3 removed the classes, so these are Keras layers of the same
names with the KIF definition (spec/layers/LocallyConnected1D.md) and the canonical kernel [*out, *K, C, F], written
with keras.ops (pad, one strided slice per tap, einsum), so they run on every backend. Registered as
``kif>LocallyConnected1D`` / ``kif>LocallyConnected2D``; ``kif.keras.export`` maps them back to the same KIF layers."""

from __future__ import annotations

import functools
import itertools
from typing import Any

from kif.layers.locally_connected import geometry


@functools.cache
def locally_connected_class(kif_type: str) -> type:
    import keras

    dims = 1 if kif_type.endswith("1D") else 2

    def __init__(self: Any, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str = "channels_last", activation: Any = None, use_bias: bool = True, **kwargs: Any) -> None:  # fmt: skip
        keras.layers.Layer.__init__(self, **kwargs)
        self.filters, self.padding, self.data_format, self.use_bias = int(filters), padding, data_format, bool(use_bias)
        self.kernel_size = [kernel_size] * dims if isinstance(kernel_size, int) else [int(k) for k in kernel_size]
        self.strides = [strides] * dims if isinstance(strides, int) else [int(s) for s in strides]
        self.activation = keras.activations.get(activation)

    def _geometry(self: Any, spatial: list[int]) -> list[tuple[int, int, int]]:
        return [geometry(self.padding, int(n), k, s) for n, k, s in zip(spatial, self.kernel_size, self.strides, strict=True)]

    def build(self: Any, input_shape: Any) -> None:
        first = self.data_format == "channels_first"
        spatial, channels = (input_shape[2:], input_shape[1]) if first else (input_shape[1:-1], input_shape[-1])
        out = [g[0] for g in self._geometry(list(spatial))]
        self.kernel = self.add_weight(shape=(*out, *self.kernel_size, int(channels), self.filters), name="kernel")
        self.bias = self.add_weight(shape=(*out, self.filters), name="bias") if self.use_bias else None

    def call(self: Any, inputs: Any) -> Any:
        ops = keras.ops
        first = self.data_format == "channels_first"
        x = ops.transpose(inputs, (0, *range(2, dims + 2), 1)) if first else inputs
        geo = self._geometry(list(x.shape[1:-1]))
        out = [g[0] for g in geo]
        x = ops.pad(x, [(0, 0), *((b, max(a, 0)) for _, b, a in geo), (0, 0)])
        taps = []
        for tap in itertools.product(*(range(k) for k in self.kernel_size)):
            index = tuple(slice(t, t + (o - 1) * s + 1, s) for t, o, s in zip(tap, out, self.strides, strict=True))
            taps.append(x[(slice(None), *index, slice(None))])
        windows = ops.reshape(ops.stack(taps, axis=-2), (-1, *out, len(taps) * int(x.shape[-1])))
        kernel = ops.reshape(self.kernel, (*out, len(taps) * int(x.shape[-1]), self.filters))
        o = "pq"[:dims]
        y = ops.einsum(f"b{o}k,{o}kf->b{o}f", windows, kernel)
        if self.bias is not None:
            y = y + self.bias
        if first:
            y = ops.transpose(y, (0, dims + 1, *range(1, dims + 1)))
        return self.activation(y)

    def compute_output_shape(self: Any, input_shape: Any) -> tuple[Any, ...]:
        first = self.data_format == "channels_first"
        spatial = input_shape[2:] if first else input_shape[1:-1]
        out = [g[0] for g in self._geometry(list(spatial))]
        return (input_shape[0], self.filters, *out) if first else (input_shape[0], *out, self.filters)

    def get_config(self: Any) -> dict[str, Any]:
        return {
            **keras.layers.Layer.get_config(self),
            "filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
            "padding": self.padding, "data_format": self.data_format, "use_bias": self.use_bias,
            "activation": keras.activations.serialize(self.activation),
        }  # fmt: skip

    body = {"__init__": __init__, "_geometry": _geometry, "build": build, "call": call, "get_config": get_config}
    body |= {"compute_output_shape": compute_output_shape, "__module__": __name__, "__doc__": f"KIF {kif_type} in Keras 3."}
    cls = type(kif_type, (keras.layers.Layer,), body)
    return keras.saving.register_keras_serializable(package="kif", name=kif_type)(cls)
