"""Cases of composite layer types (spec/composites.md): Keras 3 models whose custom layers ``kif.keras.export`` traces.

``python conformance/generators/composites.py [OUT_ROOT]`` rewrites ``cases/composites/``. Each custom class's
``call`` uses only keras.ops and Keras layers, so the bundle defines it as a composite (its own variables as weight
roles, custom sub-layers as nested composites); the expected values are Keras's (``model.predict``). A reader passes
by running the calls as their bodies: nothing outside the document is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _suite as s
from _suite import Case, layer_case
from _suite import keras as K

ops = K.ops
Layer = K.layers.Layer
register = K.saving.register_keras_serializable(package="conformance")
SECTIONS = ["spec/composites.md"]


@register
class Relu(Layer):  # type: ignore[misc]
    """The seed question's custom layer: call is relu."""

    def call(self, x: Any) -> Any:
        return ops.relu(x)


@register
class ScaleShift(Layer):  # type: ignore[misc]
    """x * w + b, per-channel weights of its own."""

    def build(self, shape: tuple[int, ...]) -> None:
        self.w = self.add_weight(name="w", shape=(shape[-1],))
        self.b = self.add_weight(name="b", shape=(shape[-1],))

    def call(self, x: Any) -> Any:
        return x * self.w + self.b


@register
class ResidualDense(Layer):  # type: ignore[misc]
    """x + Dense(gelu(x)): a sub-layer's weights become roles of the composite."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = K.layers.Dense(4, name="inner")

    def build(self, shape: tuple[int, ...]) -> None:
        self.inner.build(shape)

    def call(self, x: Any) -> Any:
        return x + self.inner(ops.gelu(x, approximate=False))


@register
class TanhOfRelu(Layer):  # type: ignore[misc]
    """tanh(Relu(x)) + x: a custom layer calling another (a nested composite)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.relu = Relu(name="relu")

    def call(self, x: Any) -> Any:
        return ops.tanh(self.relu(x)) + x


@register
class Deep(Layer):  # type: ignore[misc]
    """Three levels: Deep calls TanhOfRelu, which calls Relu; plus a ScaleShift with weights."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = TanhOfRelu(name="block")
        self.affine = ScaleShift(name="affine")

    def build(self, shape: tuple[int, ...]) -> None:
        self.affine.build(shape)

    def call(self, x: Any) -> Any:
        return self.affine(self.block(x)) * 0.5


@register
class RMSNorm(Layer):  # type: ignore[misc]
    """x * rsqrt(mean(x^2) + eps) * gamma over the last axis."""

    def __init__(self, epsilon: float = 1e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, shape: tuple[int, ...]) -> None:
        self.gamma = self.add_weight(name="gamma", shape=(shape[-1],))

    def call(self, x: Any) -> Any:
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon) * self.gamma

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}


@register
class SliceMix(Layer):  # type: ignore[misc]
    """Slicing, a reduction and a concatenation: [x[:, 1:, :2], mean(x[:, 1:], -1)]."""

    def call(self, x: Any) -> Any:
        tail = x[:, 1:, :]
        return ops.concatenate([tail[..., :2], ops.mean(tail, axis=-1, keepdims=True)], axis=-1)


@register
class Gate(Layer):  # type: ignore[misc]
    """Two inputs: a * sigmoid(b)."""

    def call(self, inputs: Any) -> Any:
        a, b = inputs
        return a * ops.sigmoid(b)


@register
class SelfAttention(Layer):  # type: ignore[misc]
    """softmax(x x^T / sqrt(d)) x: matmul, transpose and softmax on an axis."""

    def call(self, x: Any) -> Any:
        scores = ops.matmul(x, ops.transpose(x, (0, 2, 1))) / 2.0
        return ops.matmul(ops.softmax(scores, axis=-1), x)


@register
class Clipped(Layer):  # type: ignore[misc]
    """clip(x, lo, hi) with bounds from the config: two configs of one class are two composites."""

    def __init__(self, lo: float = -1.0, hi: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lo, self.hi = lo, hi

    def call(self, x: Any) -> Any:
        return ops.clip(x, self.lo, self.hi)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "lo": self.lo, "hi": self.hi}


def _shared() -> Any:
    x = K.Input((3, 4), name="x")
    layer = ScaleShift(name="shared")
    return K.Model(x, layer(Relu(name="relu")(layer(x))))


def _two_configs() -> Any:
    x = K.Input((3, 4), name="x")
    return K.Model(x, Clipped(-0.5, 0.5, name="narrow")(Clipped(-2.0, 1.0, name="wide")(x)))


def _in_a_model() -> Any:
    x = K.Input((3, 4), name="x")
    h = K.layers.Dense(4, name="dense")(RMSNorm(name="norm")(x))
    return K.Model(x, ResidualDense(name="residual")(h))


def cases() -> Iterator[Case]:
    one = {
        "composite-seed-relu": ("the seed question's custom layer (call = relu) as a composite", Relu),
        "composite-weights": ("a composite with weight roles of its own (x * w + b)", ScaleShift),
        "composite-sublayer": ("a composite whose body has a Dense with bound weights", ResidualDense),
        "composite-nested": ("a composite calling another composite", TanhOfRelu),
        "composite-nested-deep": ("composites nested three deep, with weights", Deep),
        "composite-rmsnorm": ("a normalisation composite: ops, a reduction and a weight", RMSNorm),
        "composite-slicing": ("a composite of slicing, a reduction and a concatenation", SliceMix),
        "composite-attention": ("a composite of matmul, transpose and softmax", SelfAttention),
    }
    for cid, (what, cls) in one.items():
        yield layer_case(cid, what, lambda cls=cls: cls(name="custom"), (3, 4), sections=SECTIONS, level="extended")
    yield layer_case("composite-two-inputs", "a composite with two inputs", lambda: Gate(name="gate"), (3, 4), (3, 4),
                     sections=SECTIONS, level="extended")  # fmt: skip
    rng = s.rng_for("composite-shared", "inputs")
    yield Case("composite-shared", "one composite layer called twice (shared weights)", _shared, [s.normal(rng, 2, 3, 4)],
               level="extended", sections=SECTIONS)  # fmt: skip
    rng = s.rng_for("composite-two-configs", "inputs")
    yield Case("composite-two-configs", "two configs of one custom class, two composites", _two_configs,
               [2 * s.normal(rng, 2, 3, 4)], level="extended", sections=SECTIONS)  # fmt: skip
    rng = s.rng_for("composite-in-model", "inputs")
    yield Case("composite-in-model", "composites between catalog layers", _in_a_model, [s.normal(rng, 2, 3, 4)],
               level="extended", sections=SECTIONS)  # fmt: skip


if __name__ == "__main__":
    s.main("composites", cases)
