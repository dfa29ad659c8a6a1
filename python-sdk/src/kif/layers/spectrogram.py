"""STFTSpectrogram and MelSpectrogram (spec/layers/STFTSpectrogram.md, spec/layers/MelSpectrogram.md).

STFTSpectrogram: each channel correlated with the stored real/imaginary kernels at stride frame_step, then one of
seven modes. MelSpectrogram: reflect-padded centered frames, periodic window, |rfft|^mag_exp, triangular mel
filters, optional decibels clipped top_db below the batch's maximum. Computed in float64, returned in the input's
float dtype (integer inputs: float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers._spatial import float_dtype, is_float
from kif.layers.registry import ShapeError, TensorType, register_layer

EPSILON = 1e-7  # Keras backend.epsilon(): the floor of the power and magnitude in modes log and magnitude
_MEL_BREAK_HZ, _MEL_Q = 700.0, 1127.0


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Zero padding (before, after) of a strided "same" correlation: ceil(size / stride) outputs."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def stft_frames(attrs: dict[str, Any], time: int | None) -> int | None:
    k, s = attrs["frame_length"], attrs["frame_step"]
    if time is None:
        return None
    if attrs["padding"] == "same":
        return -(-time // s)
    if time < k:
        raise ShapeError(f"expected at least frame_length={k} samples with padding='valid'. Received: {time}")
    return (time - k) // s + 1


def _stft_layout(attrs: dict[str, Any], n: Any, c: Any, t: Any, feat: Any) -> tuple[Any, ...]:
    """Output shape from per-channel [N, C, T', feat] results (Keras's _adjust_shapes)."""
    flat = None if c is None or feat is None else c * feat
    if attrs["data_format"] == "channels_last":
        return (n, t, feat, c) if attrs["expand_dims"] else (n, t, flat)
    return (n, c, t, feat) if attrs["expand_dims"] else (n, flat, t)


@register_layer("STFTSpectrogram")
class STFTSpectrogram:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if len(x.shape) != 3 or not is_float(x.dtype):
            raise ShapeError(f"expected a float input of rank 3. Received: {x.dtype} {list(x.shape)}")
        bins = attrs["fft_length"] // 2 + 1
        for role, shape in weights.items():
            if tuple(shape) != (attrs["frame_length"], 1, bins):
                raise ShapeError(f"expected {role} of shape [{attrs['frame_length']}, 1, {bins}]. Received: {list(shape)}")
        last = attrs["data_format"] == "channels_last"
        n, t, c = (x.shape[0], x.shape[1], x.shape[2]) if last else (x.shape[0], x.shape[2], x.shape[1])
        feat = 2 * bins if attrs["mode"] == "stft" else bins
        return [TensorType(x.dtype, _stft_layout(attrs, n, c, stft_frames(attrs, t), feat))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        sig = np.asarray(x, np.float64)
        sig = sig.transpose(0, 2, 1) if attrs["data_format"] == "channels_last" else sig  # [N, C, T]
        k, step = attrs["frame_length"], attrs["frame_step"]
        if attrs["padding"] == "same":
            sig = np.pad(sig, [(0, 0), (0, 0), same_pads(sig.shape[2], k, step)])
        count = stft_frames({**attrs, "padding": "valid"}, sig.shape[2])
        frames = sig[:, :, np.arange(count)[:, None] * step + np.arange(k)]  # [N, C, T', k]
        parts = {r: frames @ np.asarray(weights[r], np.float64)[:, 0, :] for r in ("real_kernel", "imag_kernel") if r in weights}
        mode = attrs["mode"]
        if mode in ("real", "imag"):
            y = parts[f"{mode}_kernel"]
        elif mode == "angle":
            y = np.arctan2(parts["imag_kernel"], parts["real_kernel"])
        elif mode == "stft":
            y = np.concatenate([parts["real_kernel"], parts["imag_kernel"]], axis=-1)
        else:
            power = parts["real_kernel"] ** 2 + parts["imag_kernel"] ** 2
            if mode == "psd":  # one-sided density: every bin but the first and the last counted twice
                y = power.copy()
                y[..., 1:-1] *= 2.0
            else:
                y = np.sqrt(np.maximum(power, EPSILON))
                y = np.log(np.maximum(y, EPSILON)) if mode == "log" else y
        n, c, t, feat = y.shape
        if attrs["data_format"] == "channels_last":
            y = y.transpose(0, 2, 3, 1) if attrs["expand_dims"] else y.transpose(0, 2, 1, 3).reshape(n, t, c * feat)
        elif not attrs["expand_dims"]:
            y = y.transpose(0, 1, 3, 2).reshape(n, c * feat, t)
        return [np.ascontiguousarray(y.astype(x.dtype))]


def mel_frames(attrs: dict[str, Any], length: int | None) -> int | None:
    fft = attrs["fft_length"]
    if length is None:
        return None
    if length <= fft // 2:
        raise ShapeError(f"expected more than fft_length // 2 = {fft // 2} samples (reflect padding). Received: {length}")
    return 1 + (length + 2 * (fft // 2) - fft) // attrs["sequence_stride"]


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return _MEL_Q * np.log(1.0 + f / _MEL_BREAK_HZ)


def mel_matrix(attrs: dict[str, Any]) -> np.ndarray:
    """The [fft_length // 2 + 1, num_mel_bins] triangular filters (tf.signal.linear_to_mel_weight_matrix)."""
    bins, mels = attrs["fft_length"] // 2 + 1, attrs["num_mel_bins"]
    freqs = _hz_to_mel(np.linspace(0.0, attrs["sampling_rate"] / 2.0, bins)[1:])[:, None]
    edges = np.linspace(_hz_to_mel(np.float64(attrs["min_freq"])), _hz_to_mel(np.float64(attrs["max_freq"])), mels + 2)
    lower, center, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    w = np.maximum(0.0, np.minimum((freqs - lower) / (center - lower), (upper - freqs) / (upper - center)))
    return np.pad(w, [(1, 0), (0, 0)])  # the DC bin feeds no band


def frame_window(attrs: dict[str, Any]) -> np.ndarray:
    """The fft_length-sample window: tf.signal's periodic hann/hamming of sequence_length samples centered, or ones."""
    fft, n = attrs["fft_length"], attrs["sequence_length"]
    if attrs["window"] is None:
        return np.ones(fft)
    a = 0.5 if attrs["window"] == "hann" else 0.54
    period = n if n % 2 == 0 else n - 1  # tf.signal's "periodic" applies to even lengths only
    win = a - (1.0 - a) * np.cos(2.0 * np.pi * np.arange(n) / period) if n > 1 else np.ones(1)
    left = (fft - n) // 2
    return np.pad(win, (left, fft - n - left))


@register_layer("MelSpectrogram")
class MelSpectrogram:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if len(x.shape) != 2 or x.dtype == "bool":
            raise ShapeError(f"expected a numeric input [batch, samples]. Received: {x.dtype} {list(x.shape)}")
        if attrs["sequence_length"] > attrs["fft_length"]:
            raise ShapeError(f"expected sequence_length <= fft_length. Received: {attrs['sequence_length']} > {attrs['fft_length']}")
        return [TensorType(float_dtype(x.dtype), (x.shape[0], attrs["num_mel_bins"], mel_frames(attrs, x.shape[1])))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        fft, stride = attrs["fft_length"], attrs["sequence_stride"]
        sig = np.pad(np.asarray(x, np.float64), [(0, 0), (fft // 2, fft // 2)], mode="reflect")
        count = mel_frames(attrs, x.shape[1])
        assert count is not None
        frames = sig[:, np.arange(count)[:, None] * stride + np.arange(fft)] * frame_window(attrs)
        spec = np.abs(np.fft.rfft(frames, n=fft, axis=-1)) ** attrs["mag_exp"]  # [N, T', bins]
        mel = spec @ mel_matrix(attrs)
        if attrs["power_to_db"]:
            floor = attrs["min_power"]
            mel = 10.0 * np.log10(np.maximum(mel, floor)) - 10.0 * np.log10(max(abs(attrs["ref_power"]), floor))
            mel = np.maximum(mel, mel.max() - attrs["top_db"]) if mel.size else mel  # the maximum of the whole batch
        dtype = np.dtype(x.dtype) if is_float(x.dtype) else np.dtype(np.float32)
        return [np.ascontiguousarray(mel.transpose(0, 2, 1).astype(dtype))]


def dft_kernels(attrs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """MelSpectrogram's windowed real DFT as two [fft_length, bins] float64 matrices (real, imaginary): a frame
    times them is rfft(frame * window). Importers use them to write the STFT as a strided correlation."""
    fft = attrs["fft_length"]
    angle = 2.0 * np.pi * np.outer(np.arange(fft), np.arange(fft // 2 + 1)) / fft
    win = frame_window(attrs)[:, None]
    return win * np.cos(angle), -win * np.sin(angle)
