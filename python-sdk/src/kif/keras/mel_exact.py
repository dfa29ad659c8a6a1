"""MelSpectrogram as to_keras builds it for an odd ``sequence_length``: tf.signal's window on every Keras backend.

tf.signal's "periodic" hann/hamming windows are periodic for even lengths only (period N - 1 for odd N), and KIF
follows TensorFlow (spec/layers/MelSpectrogram.md); Keras-torch's ``torch.hann_window(periodic=True)`` uses period
N for every length. This subclass of ``keras.layers.MelSpectrogram`` passes the reference's window
(``kif.layers.spectrogram.frame_window``) to ``stft`` as a tensor and keeps the layer's class name and config, so
exporting the rebuilt model gives the same KIF layer back. Even lengths and ``window=None`` go to Keras's own code.
Registered as ``kif>MelSpectrogram``; loading a saved ``.keras`` file needs ``kif.keras.to_keras.register_keras_objects()``.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def mel_spectrogram_exact() -> type:
    import keras

    from kif.layers.spectrogram import frame_window

    base = keras.layers.MelSpectrogram

    def _spectrogram(self: Any, inputs: Any) -> Any:
        n = self.sequence_length
        if self.window is None or not isinstance(self.window, str) or n % 2 == 0:
            return base._spectrogram(self, inputs)
        ops = self.backend.numpy
        attrs = {"fft_length": n, "sequence_length": n, "window": self.window}
        window = self.backend.convert_to_tensor(frame_window(attrs), dtype=inputs.dtype)
        real, imag = self.backend.math.stft(inputs, n, self.sequence_stride, self.fft_length, window=window, center=True)
        return ops.power(ops.sqrt(ops.add(ops.square(real), ops.square(imag))), self.mag_exp)

    doc = "MelSpectrogram with tf.signal's window for an odd sequence_length, on every Keras backend."
    cls = type("MelSpectrogram", (base,), {"_spectrogram": _spectrogram, "__module__": __name__, "__doc__": doc})
    return keras.saving.register_keras_serializable(package="kif", name="MelSpectrogram")(cls)


__all__ = ["mel_spectrogram_exact"]
