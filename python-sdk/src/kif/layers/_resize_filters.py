"""Per-axis interpolation matrices of Resizing's linear methods, as tf.image.resize computes them (spec/layers/Resizing.md).

Every method but nearest is separable and linear: one axis resized from n_in to n_out cells is a [n_out, n_in]
matrix. Positions are computed in float32 as TensorFlow's kernels do (so a tap on a span boundary falls on the
same side), weights in float64.
"""

from __future__ import annotations

import numpy as np

_F = np.float32
_TABLE = 1024  # resize_bicubic quantises the fractional position to 1/1024
_LANCZOS_PI = np.float64(np.float32(3.14159265359))  # the pi constant of TF's Lanczos kernel, as a float32


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (Catmull-Rom), support 2."""
    x = np.abs(x)
    inner = ((1.5 * x - 2.5) * x) * x + 1.0
    outer = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return np.where(x < 1.0, inner, np.where(x < 2.0, outer, 0.0))


def _lanczos(radius: float):  # type: ignore[no-untyped-def]
    def kernel(x: np.ndarray) -> np.ndarray:
        x = np.abs(x)
        safe = np.where(x <= 1e-3, 1.0, x)
        value = radius * np.sin(_LANCZOS_PI * safe) * np.sin(_LANCZOS_PI * safe / radius) / (_LANCZOS_PI * _LANCZOS_PI * safe * safe)
        return np.where(x > radius, 0.0, np.where(x <= 1e-3, 1.0, value))

    return kernel


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, 1.0 - np.abs(x))


def _gaussian(x: np.ndarray) -> np.ndarray:
    """TF's Gaussian kernel: radius 1.5, sigma = radius / 3."""
    x = np.abs(x)
    sigma = 1.5 / 3.0
    return np.where(x >= 1.5, 0.0, np.exp(-x * x / (2.0 * sigma * sigma)))


def _mitchell_cubic(x: np.ndarray) -> np.ndarray:
    """Mitchell-Netravali cubic with B = C = 1/3, support 2."""
    x = np.abs(x)
    outer = (((-7.0 / 18.0) * x + 2.0) * x - 10.0 / 3.0) * x + 16.0 / 9.0
    inner = ((7.0 / 6.0 * x - 2.0) * x) * x + 8.0 / 9.0
    return np.where(x >= 2.0, 0.0, np.where(x >= 1.0, outer, inner))


KERNELS = {
    "bilinear": (_triangle, 1.0),
    "bicubic": (_keys_cubic, 2.0),
    "lanczos3": (_lanczos(3.0), 3.0),
    "lanczos5": (_lanczos(5.0), 5.0),
    "gaussian": (_gaussian, 1.5),
    "mitchellcubic": (_mitchell_cubic, 2.0),
}


def _normalise(w: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1, keepdims=True)
    # TensorFlow leaves a row whose weights sum to (almost) zero unnormalised.
    return np.where(np.abs(total) >= 1000.0 * np.finfo(np.float32).tiny, w / np.where(total == 0.0, 1.0, total), w)


def scale_and_translate(n_in: int, n_out: int, interpolation: str, antialias: bool) -> np.ndarray:
    """tf.raw_ops.ScaleAndTranslate with zero translation: kernel k of radius r, widened by n_in/n_out when
    antialias and downscaling; weights k(|j + 0.5 - s_o| / ks) over the source cells, renormalised to sum 1."""
    kernel, radius = KERNELS[interpolation]
    inv_scale = _F(1.0) / (_F(n_out) / _F(n_in))
    ks = float(max(inv_scale, _F(1.0))) if antialias else 1.0
    sample = ((np.arange(n_out, dtype=_F) + _F(0.5)) * inv_scale).astype(np.float64)
    j = np.arange(n_in, dtype=np.float64)
    start = np.clip(np.ceil(sample - radius * ks - 0.5), 0, n_in - 1)
    end = np.clip(np.floor(sample + radius * ks - 0.5), 0, n_in - 1)
    inside = (j[None, :] >= start[:, None]) & (j[None, :] <= end[:, None])
    w = np.where(inside, kernel((j[None, :] + 0.5 - sample[:, None]) / ks), 0.0)
    return _normalise(w)


def _cubic_table(i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """resize_bicubic's float32 table at x = i / 1024: (k(x), k(x + 1)) for Keys' a = -0.5."""
    a, x = -0.5, i / _TABLE
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    x = x + 1.0
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return near.astype(_F).astype(np.float64), far.astype(_F).astype(np.float64)


def bicubic_table(n_in: int, n_out: int) -> np.ndarray:
    """tf.raw_ops.ResizeBicubic(half_pixel_centers=True): four taps around u = (o + 0.5) * n_in / n_out - 0.5 with
    Keys' weights at the position quantised to 1/1024; taps outside the image get weight 0, the rest renormalised."""
    scale = _F(n_in) / _F(n_out)
    u = (np.arange(n_out, dtype=_F) + _F(0.5)) * scale - _F(0.5)
    base = np.floor(u).astype(np.int64)
    offset = np.rint((u - base.astype(_F)) * _F(_TABLE)).astype(np.int64)  # lrintf: half to even
    near, far = _cubic_table(offset)
    near2, far2 = _cubic_table(_TABLE - offset)
    w = np.zeros((n_out, n_in))
    for tap, weight in ((base - 1, far), (base, near), (base + 1, near2), (base + 2, far2)):
        ok = (tap >= 0) & (tap < n_in)
        np.add.at(w, (np.nonzero(ok)[0], tap[ok]), weight[ok])
    return _normalise(w)


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """tf.raw_ops.ResizeArea: output cell o averages [o * s, (o + 1) * s) with s = n_in / n_out, each source cell
    weighted by its overlap with that interval (cells past the edge read the last one)."""
    s = _F(n_in) / _F(n_out)
    w = np.zeros((n_out, n_in))
    for o in range(n_out):
        lo, hi = float(_F(o) * s), float(_F(o + 1) * s)
        for i in range(int(np.floor(lo)), int(np.ceil(hi))):
            overlap = min(i + 1.0, hi) - max(float(i), lo)
            w[o, min(max(i, 0), n_in - 1)] += overlap
    return w / float(s)
