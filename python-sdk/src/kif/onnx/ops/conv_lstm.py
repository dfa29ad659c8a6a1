"""ConvLSTM1D/2D/3D: ONNX has no ConvLSTM op, so a ``Scan`` over time whose body is the Keras cell.

Outside the loop, one ``Conv`` computes every step's input convolution (time folded into the batch,
TensorFlow's explicit padding); the Scan body adds the recurrent ``Conv`` (stride 1, "same") and forms
the gates i, f, c, o. Inside, tensors are NC* (ONNX's Conv layout); a masked step carries the states
forward and outputs zero or the previous output, as spec/layers/ConvLSTM2D.md says.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import helper

from kif.layers import _conv_utils as cu
from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.onnx.ops._act import activation
from kif.onnx.ops.recurrent import reverse_time

_AXIS_WISE = ("softmax", "log_softmax", "sparsemax", "glu")  # act along the channel axis: not expressed here


def _torch_layout(kernel: np.ndarray) -> np.ndarray:
    """[*K, C, 4F] → ONNX's [4F, C, *K]."""
    r = kernel.ndim - 2
    return np.ascontiguousarray(kernel.transpose(r + 1, r, *range(r)))


@emits("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def conv_lstm(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x, h0, c0, mask = [*inputs, None, None, None][:4]
    assert x is not None
    r, f, last = len(attrs["kernel_size"]), attrs["filters"], attrs["data_format"] == "channels_last"
    for key in ("activation", "recurrent_activation"):
        if attrs[key] in _AXIS_WISE:
            raise ctx.refuse(f"{key}={attrs[key]!r} acts along the channel axis, which this lowering does not express")
    spatial = ctx.shape(x)[2:-1] if last else ctx.shape(x)[3:]
    if attrs["padding"] == "same" and any(s is None for s in spatial):
        raise ctx.refuse("padding='same' needs static spatial sizes in the graph")
    dt, elem = ctx.np_dtype(x), ctx.onnx_dtype(x)
    if attrs["go_backwards"]:
        x = reverse_time(ctx, x)
        mask = None if mask is None else reverse_time(ctx, mask)
    if last:
        x = ctx.node("Transpose", [x], perm=[0, 1, r + 2, *range(2, r + 2)])  # [N, T, C, *S]
    folded = ctx.node("Reshape", [x, ctx.node("Concat", [ctx.ints([-1]), ctx.node("Shape", [x], start=2)], axis=0)])
    geometry = zip(spatial, attrs["kernel_size"], attrs["strides"], attrs["dilation_rate"], strict=True)
    pads = [(0, 0) if attrs["padding"] == "valid" else cu.same_pads(s, k, st, d) for s, k, st, d in geometry]  # type: ignore[arg-type]
    conv_in = [folded, ctx.const(_torch_layout(ctx.weight("kernel", dt)), hint="kernel")]
    if attrs["use_bias"]:
        conv_in.append(ctx.const(ctx.weight("bias", dt), hint="bias"))
    flat_pads = [p[0] for p in pads] + [p[1] for p in pads]
    projected = ctx.node("Conv", conv_in, strides=attrs["strides"], dilations=attrs["dilation_rate"], pads=flat_pads)
    out_spatial = ctx.node("Shape", [projected], start=2)
    nt = ctx.node("Shape", [x], start=0, end=2)
    projected = ctx.node("Reshape", [projected, ctx.node("Concat", [nt, ctx.ints([4 * f]), out_spatial], axis=0)])
    xs = ctx.node("Transpose", [projected], perm=[1, 0, *range(2, r + 3)])  # [T, N, 4F, *O]
    if mask is None:
        true = helper.make_tensor("value", ONNX_DTYPES["bool"], [1], [True])
        shape = ctx.node("Concat", [ctx.node("Shape", [xs], start=0, end=2), ctx.ints([1] * (r + 1))], axis=0)
        ms = ctx.node("ConstantOfShape", [shape], value=true)
    else:
        ms = ctx.node("Unsqueeze", [ctx.node("Transpose", [mask], perm=[1, 0]), ctx.ints(list(range(2, r + 3)))])  # [T, N, 1, ...]
    state_shape = ctx.node("Concat", [ctx.node("Shape", [x], start=0, end=1), ctx.ints([f]), out_spatial], axis=0)
    zeros = ctx.node("Expand", [ctx.const(np.zeros((1, f, *[1] * r), dtype=dt)), state_shape])
    to_first = [0, r + 1, *range(1, r + 1)]
    init = [zeros if s is None else (ctx.node("Transpose", [s], perm=to_first) if last else s) for s in (h0, c0)]

    outer, ctx.nodes = ctx.nodes, []
    h_in, c_in, prev_in, x_t, m_t = (ctx.fresh(n) for n in ("h", "c", "prev_out", "x_t", "m_t"))
    rk = ctx.const(_torch_layout(ctx.weight("recurrent_kernel", dt)), hint="recurrent_kernel")
    rpads = [(k - 1) // 2 for k in attrs["kernel_size"]] + [k - 1 - (k - 1) // 2 for k in attrs["kernel_size"]]
    z = ctx.node("Add", [x_t, ctx.node("Conv", [h_in, rk], pads=rpads)])
    zi, zf, zc, zo = ctx.node("Split", [z], outputs=4, axis=1, num_outputs=4)
    gate, act = attrs["recurrent_activation"], attrs["activation"]
    c_new = ctx.node(
        "Add",
        [
            ctx.node("Mul", [activation(ctx, gate, dt, zf), c_in]),
            ctx.node("Mul", [activation(ctx, gate, dt, zi), activation(ctx, act, dt, zc)]),
        ],
    )
    h_new = ctx.node("Mul", [activation(ctx, gate, dt, zo), activation(ctx, act, dt, c_new)])
    fallback = ctx.scalar(0.0, dt) if attrs["zero_output_for_mask"] else prev_in
    out_t = ctx.node("Where", [m_t, h_new, fallback])
    body_out = [
        ctx.node("Where", [m_t, h_new, h_in]),
        ctx.node("Where", [m_t, c_new, c_in]),
        ctx.node("Identity", [out_t]),
        ctx.node("Identity", [out_t]),
    ]
    body_nodes, ctx.nodes = ctx.nodes, outer

    def vi(name: str, et: int) -> Any:
        return helper.make_tensor_value_info(name, et, None)

    body = helper.make_graph(
        body_nodes,
        ctx.fresh("cell"),
        [vi(h_in, elem), vi(c_in, elem), vi(prev_in, elem), vi(x_t, elem), vi(m_t, ONNX_DTYPES["bool"])],
        [vi(n, elem) for n in body_out],
    )
    h, c, final, seq = ctx.node("Scan", [*init, zeros, xs, ms], outputs=4, body=body, num_scan_inputs=2)
    back = [0, *range(2, r + 2), 1]  # [N, F, *O] → [N, *O, F]
    if attrs["return_sequences"]:
        y = ctx.node("Transpose", [seq], perm=[1, 0, *range(3, r + 3), 2] if last else [1, 0, *range(2, r + 3)])
    else:
        y = ctx.node("Transpose", [final], perm=back) if last else final
    if not attrs["return_state"]:
        return [y]
    return [y, *((ctx.node("Transpose", [s], perm=back) if last else s) for s in (h, c))]
