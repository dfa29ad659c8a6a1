"""STFTSpectrogram and MelSpectrogram as ONNX Conv: each frequency bin is a strided correlation with a constant
kernel (the stored kernels, or the reference's windowed DFT matrices, kif.layers.spectrogram.dft_kernels), then
the mode (atan2 written with Atan and Where: ONNX has none) or the mel filters and decibels. Computed in float32
(float64 inputs in float64); STFTSpectrogram needs static channel and time sizes."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers.spectrogram import EPSILON, dft_kernels, mel_matrix, same_pads, stft_frames
from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits


def _compute(ctx: Ctx, x: str) -> tuple[str, np.dtype]:
    dt = np.dtype(np.float64) if ctx.type_of(x).dtype == "float64" else np.dtype(np.float32)
    return (x if ctx.type_of(x).dtype == dt.name else ctx.node("Cast", [x], to=ONNX_DTYPES[dt.name])), dt


def _back(ctx: Ctx, y: str, dt: np.dtype) -> str:
    out = ctx.out_types[0].dtype
    return y if out == dt.name else ctx.node("Cast", [y], to=ONNX_DTYPES[out])


def _atan2(ctx: Ctx, y: str, x: str, dt: np.dtype) -> str:
    zero, one = ctx.const(np.zeros((), dt)), ctx.const(np.ones((), dt))
    base = ctx.node("Atan", [ctx.node("Div", [y, ctx.node("Where", [ctx.node("Equal", [x, zero]), one, x])])])
    pi = ctx.node("Where", [ctx.node("GreaterOrEqual", [y, zero]), ctx.const(np.asarray(np.pi, dt)), ctx.const(np.asarray(-np.pi, dt))])
    on_axis = ctx.node("Mul", [ctx.node("Sign", [y]), ctx.const(np.asarray(np.pi / 2, dt))])  # x = 0: +-pi/2, or 0
    left = ctx.node("Where", [ctx.node("Less", [x, zero]), ctx.node("Add", [base, pi]), on_axis])
    return str(ctx.node("Where", [ctx.node("Greater", [x, zero]), base, left]))


@emits("STFTSpectrogram")
def stft(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    last, mode, k, step = attrs["data_format"] == "channels_last", attrs["mode"], attrs["frame_length"], attrs["frame_step"]
    shape = ctx.shape(x)
    time, channels = (shape[1], shape[2]) if last else (shape[2], shape[1])
    if time is None or channels is None:
        raise ctx.refuse("needs static channel and time sizes; declare them in the graph inputs")
    frames, bins = stft_frames(attrs, time), attrs["fft_length"] // 2 + 1
    xf, dt = _compute(ctx, x)
    sig = ctx.node("Transpose", [xf], perm=[0, 2, 1]) if last else xf
    sig = ctx.node("Reshape", [sig, ctx.ints([-1, 1, time])])
    if attrs["padding"] == "same":
        lo, hi = same_pads(time, k, step)
        sig = ctx.node("Pad", [sig, ctx.ints([0, 0, lo, 0, 0, hi])], mode="constant")
    parts = {}
    for role in ("real_kernel", "imag_kernel"):
        if ctx.has_weight(role):
            kernel = ctx.const(ctx.weight(role, dt).transpose(2, 1, 0), hint=role)  # [bins, 1, k]
            y = ctx.node("Conv", [sig, kernel], strides=[step], kernel_shape=[k])  # [N * C, bins, T']
            y = ctx.node("Reshape", [y, ctx.ints([-1, channels, bins, frames])])
            parts[role] = ctx.node("Transpose", [y], perm=[0, 1, 3, 2])  # [N, C, T', bins]
    if mode in ("real", "imag"):
        y = parts[f"{mode}_kernel"]
    elif mode == "angle":
        y = _atan2(ctx, parts["imag_kernel"], parts["real_kernel"], dt)
    elif mode == "stft":
        y = ctx.node("Concat", [parts["real_kernel"], parts["imag_kernel"]], axis=-1)
    else:
        re, im = parts["real_kernel"], parts["imag_kernel"]
        power = ctx.node("Add", [ctx.node("Mul", [re, re]), ctx.node("Mul", [im, im])])
        if mode == "psd":
            scale = np.full(bins, 2.0, dt)
            scale[0] = scale[-1] = 1.0
            y = ctx.node("Mul", [power, ctx.const(scale, hint="psd_scale")])
        else:
            eps = ctx.const(np.asarray(EPSILON, dt))
            y = ctx.node("Sqrt", [ctx.node("Max", [power, eps])])
            y = ctx.node("Log", [ctx.node("Max", [y, eps])]) if mode == "log" else y
    feat = 2 * bins if mode == "stft" else bins
    if last:
        y = ctx.node("Transpose", [y], perm=[0, 2, 3, 1] if attrs["expand_dims"] else [0, 2, 1, 3])
        if not attrs["expand_dims"]:
            y = ctx.node("Reshape", [y, ctx.ints([-1, frames, channels * feat])])
    elif not attrs["expand_dims"]:
        y = ctx.node("Reshape", [ctx.node("Transpose", [y], perm=[0, 1, 3, 2]), ctx.ints([-1, channels * feat, frames])])
    return [_back(ctx, y, dt)]


@emits("MelSpectrogram")
def mel(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    fft, half = attrs["fft_length"], attrs["fft_length"] // 2
    xf, dt = _compute(ctx, x)
    sig = ctx.node("Unsqueeze", [xf, ctx.ints([1])])
    sig = ctx.node("Pad", [sig, ctx.ints([0, 0, half, 0, 0, half])], mode="reflect")
    real, imag = dft_kernels(attrs)
    re, im = (
        ctx.node("Conv", [sig, ctx.const(k.T[:, None, :].astype(dt), hint=h)], strides=[attrs["sequence_stride"]], kernel_shape=[fft])
        for k, h in ((real, "dft_real"), (imag, "dft_imag"))
    )  # [N, bins, T']
    mag = ctx.node("Sqrt", [ctx.node("Add", [ctx.node("Mul", [re, re]), ctx.node("Mul", [im, im])])])
    if attrs["mag_exp"] != 1:
        mag = ctx.node("Pow", [mag, ctx.const(np.asarray(attrs["mag_exp"], dt))])
    y = ctx.node("MatMul", [ctx.const(mel_matrix(attrs).T.astype(dt), hint="mel_filters"), mag])  # [N, mels, T']
    if attrs["power_to_db"]:
        floor = attrs["min_power"]
        y = ctx.node("Log", [ctx.node("Max", [y, ctx.const(np.asarray(floor, dt))])])
        ref_db = 10.0 * np.log10(max(abs(attrs["ref_power"]), floor))
        y = ctx.node("Sub", [ctx.node("Mul", [y, ctx.const(np.asarray(10.0 / np.log(10.0), dt))]), ctx.const(np.asarray(ref_db, dt))])
        peak = ctx.node("Sub", [ctx.node("ReduceMax", [y], keepdims=0), ctx.const(np.asarray(attrs["top_db"], dt))])
        y = ctx.node("Max", [y, peak])  # clipped top_db below the maximum of the whole batch
    return [_back(ctx, y, dt)]
