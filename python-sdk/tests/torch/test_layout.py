"""The load-time layout plan (kif.torch.layout): NC* between convolution-friendly layers, channels-last elsewhere.

Oracle: the NumPy reference runtime (kif.runtime.run) on the same model; the permute count comes from the
module's own plan and from a torch.fx trace of its forward.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import kif
import kif.torch
from kif.runtime import run as reference_run

RNG = np.random.default_rng(7)


def _w(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * 0.3).astype(np.float32)


def _bn(c: int) -> dict[str, np.ndarray]:
    return {"gamma": 1 + _w(c), "beta": _w(c), "moving_mean": _w(c), "moving_variance": RNG.uniform(0.5, 1.5, c).astype(np.float32)}


def _conv(b: kif.GraphBuilder, t: Any, name: str, cin: int, cout: int, **extra: Any) -> Any:
    weights = {"kernel": _w(3, 3, cin, cout), "bias": _w(cout)}
    return b.add("Conv2D", t, name=name, filters=cout, kernel_size=[3, 3], padding="same", weights=weights, **extra)


def _two_convs() -> kif.Model:
    b = kif.GraphBuilder("two_convs")
    t = b.input("x", "float32", (None, 8, 8, 3))
    t = _conv(b, t, "conv_0", 3, 4)
    t = b.add("BatchNormalization", t, name="bn", weights=_bn(4))
    t = b.add("ReLU", t, name="relu")
    t = _conv(b, t, "conv_1", 4, 5)
    t = b.add("MaxPooling2D", t, name="pool", pool_size=[2, 2])
    b.output(t)
    return b.build()


def _count_movedims(module: torch.nn.Module, x: torch.Tensor) -> int:
    """Channel-axis moves (movedim calls that really move an axis) during one forward."""
    calls = 0
    original = torch.Tensor.movedim

    def counting(self: torch.Tensor, source: int, destination: int) -> torch.Tensor:
        nonlocal calls
        calls += source % self.dim() != destination % self.dim()
        return original(self, source, destination)

    torch.Tensor.movedim = counting  # type: ignore[method-assign]
    try:
        with torch.no_grad():
            module(x)
    finally:
        torch.Tensor.movedim = original  # type: ignore[method-assign]
    return calls


def test_no_permute_between_two_convs() -> None:
    model = _two_convs()
    module = kif.torch.load(model)
    # the plan: one move in (before conv_0), none inside the conv/bn/relu/conv/pool run, one back out at the output
    assert [len(m) for m in module.moves] == [1, 0, 0, 0, 0]
    assert module.nc_outputs == [model.outputs[0].name]
    x = RNG.standard_normal((2, 8, 8, 3)).astype(np.float32)
    # and at run time: exactly those two channel-axis moves happen in the whole forward
    assert _count_movedims(module, torch.from_numpy(x)) == 2
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    want = reference_run(model, x)[model.outputs[0].name]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_layout_sensitive_layers_after_a_conv_get_channels_last_data() -> None:
    b = kif.GraphBuilder("sensitive")
    x = b.input("x", "float32", (None, 6, 6, 3))
    c = _conv(b, x, "conv_0", 3, 4)
    soft = b.add("Activation", c, name="softmax", activation="softmax")  # along the channel axis: not point-wise
    cs = _conv(b, c, "conv_sm", 4, 4, activation="softmax")  # a conv whose activation needs channels-last
    gap = b.add("GlobalAveragePooling2D", c, name="gap")
    flat = b.add("Flatten", c, name="flatten")
    dense = b.add("Dense", flat, name="dense", units=3, weights={"kernel": _w(6 * 6 * 4, 3), "bias": _w(3)})
    mixed = b.add("Add", [c, _conv(b, x, "conv_1", 3, 4)], name="add")  # two NC* inputs: stays NC*
    ln = b.add("LayerNormalization", mixed, name="ln", weights={"gamma": 1 + _w(4), "beta": _w(4)})
    for t in (soft, cs, gap, dense, ln, c):
        b.output(t)
    model = b.build()
    module = kif.torch.load(model)
    moves = dict(zip(module.layer_names, module.moves, strict=True))
    for name in ("softmax", "conv_sm", "gap", "flatten", "ln"):  # each reads an NC* tensor: channels-last first
        assert moves[name] == ((0, "to_last"),), name
    assert moves["add"] == ()  # two NC* inputs: stays NC*
    data = RNG.standard_normal((2, 6, 6, 3)).astype(np.float32)
    with torch.no_grad():
        got = module(torch.from_numpy(data))
    want = reference_run(model, data)
    assert len(got) == len(want)
    for name, g in zip(module.output_names, got, strict=True):
        np.testing.assert_allclose(g.numpy(), want[name], rtol=1e-5, atol=1e-5, err_msg=name)
