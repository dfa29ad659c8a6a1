"""Shared test set-up. Keras, the oracle, runs on its torch backend (never TensorFlow)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
