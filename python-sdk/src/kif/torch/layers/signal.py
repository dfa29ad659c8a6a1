"""Converters for STFTSpectrogram and MelSpectrogram: framing by unfold, the transform as a matrix product with
the stored kernels (STFT) or the reference's windowed DFT matrices (Mel), then the layer's mode or mel/dB steps."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kif.graph import Layer
from kif.layers.spectrogram import EPSILON, dft_kernels, mel_matrix, same_pads
from kif.torch.layers import converter
from kif.torch.layers._util import Fn

W = dict[str, np.ndarray]


def _frames(x: Tensor, length: int, step: int) -> Tensor:
    return x.unfold(-1, length, step)  # [..., T'] frames of length samples


@converter("STFTSpectrogram")
def _stft(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    last, mode = a["data_format"] == "channels_last", a["mode"]
    kernels = {r: np.asarray(w[r], np.float64)[:, 0, :] for r in ("real_kernel", "imag_kernel") if r in w}

    def stft(m: Fn, x: Tensor) -> Tensor:
        sig = x.to(torch.float64)
        sig = sig.transpose(1, 2) if last else sig  # [N, C, T]
        if a["padding"] == "same":
            sig = F.pad(sig, list(same_pads(int(sig.shape[2]), a["frame_length"], a["frame_step"])))
        frames = _frames(sig, a["frame_length"], a["frame_step"])  # [N, C, T', k]
        parts = {r: frames @ torch.from_numpy(k) for r, k in kernels.items()}
        if mode in ("real", "imag"):
            y = parts[f"{mode}_kernel"]
        elif mode == "angle":
            y = torch.atan2(parts["imag_kernel"], parts["real_kernel"])
        elif mode == "stft":
            y = torch.cat([parts["real_kernel"], parts["imag_kernel"]], dim=-1)
        else:
            power = parts["real_kernel"] ** 2 + parts["imag_kernel"] ** 2
            if mode == "psd":
                scale = torch.full((power.shape[-1],), 2.0, dtype=power.dtype)
                scale[0] = scale[-1] = 1.0
                y = power * scale
            else:
                y = torch.sqrt(torch.clamp(power, min=EPSILON))
                y = torch.log(torch.clamp(y, min=EPSILON)) if mode == "log" else y
        n, c, t, feat = y.shape
        if last:
            y = y.permute(0, 2, 3, 1) if a["expand_dims"] else y.permute(0, 2, 1, 3).reshape(n, t, c * feat)
        elif not a["expand_dims"]:
            y = y.permute(0, 1, 3, 2).reshape(n, c * feat, t)
        return y.contiguous().to(x.dtype)

    return Fn(stft)


@converter("MelSpectrogram")
def _mel(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    fft, stride = a["fft_length"], a["sequence_stride"]
    real, imag = dft_kernels(a)
    mel = mel_matrix(a)

    def melspec(m: Fn, x: Tensor) -> Tensor:
        out = x.dtype if x.is_floating_point() else torch.float32
        sig = F.pad(x.to(torch.float64)[:, None, :], [fft // 2, fft // 2], mode="reflect")[:, 0, :]
        frames = _frames(sig, fft, stride)  # [N, T', fft]
        mag = torch.sqrt((frames @ torch.from_numpy(real)) ** 2 + (frames @ torch.from_numpy(imag)) ** 2)
        y = (mag ** a["mag_exp"]) @ torch.from_numpy(mel)
        if a["power_to_db"]:
            floor = a["min_power"]
            y = 10.0 * torch.log10(torch.clamp(y, min=floor)) - 10.0 * float(np.log10(max(abs(a["ref_power"]), floor)))
            y = torch.maximum(y, y.max() - a["top_db"])  # the maximum of the whole batch
        return y.transpose(1, 2).contiguous().to(out)

    return Fn(melspec)
