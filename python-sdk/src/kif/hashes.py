"""TensorFlow's string hashes, bit-exact (spec/layers/Hashing.md#hash-functions).

* ``fingerprint64``: FarmHash Fingerprint64 of the UTF-8 bytes (``tf.strings.to_hash_bucket_fast``), from
  ``pyfarmhash``;
* ``siphash``: SipHash-2-4 keyed by two 64-bit words, little-endian (``tf.strings.to_hash_bucket_strong``), from
  ``siphash24``;
* ``fingerprint_cat64``: TF's ``FingerprintCat64`` (``tf.sparse.cross_hashed``), plain arithmetic here.

Both libraries come with the ``text`` extra and are imported on first use: without them, one ``dependency-missing``
error names the extra.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kif._optional import require

MASK64 = 2**64 - 1
_MUL = 0xC6A4A7935BD1E995  # FingerprintCat64's multiplier (tensorflow/core/platform/fingerprint.h)
_FEATURE = "TF string hashing (Hashing, HashedCrossing, StringLookup and IntegerLookup OOV buckets)"


def fingerprint64(text: str) -> int:
    return int(require("farmhash", _FEATURE).fingerprint64(text.encode("utf-8")))


def _siphash(key: Sequence[int]) -> Callable[[str], int]:
    sip = require("siphash24", _FEATURE).siphash24
    packed = struct.pack("<QQ", key[0] & MASK64, key[1] & MASK64)
    # intdigest() is signed; the digest bytes are the little-endian unsigned value TensorFlow uses
    return lambda text: int.from_bytes(sip(text.encode("utf-8"), key=packed).digest(), "little")


def hasher(salt: Sequence[int] | None) -> Callable[[str], int]:
    """Fingerprint64 without a salt, SipHash-2-4 keyed by ``salt`` with one."""
    if salt is None:
        require("farmhash", _FEATURE)
        return fingerprint64
    return _siphash(salt)


def buckets(values: np.ndarray, num_buckets: int, salt: Sequence[int] | None) -> np.ndarray:
    """``hash(value) mod num_buckets`` of an object array of ``str``, as int64."""
    digest = hasher(salt)
    flat = [digest(v) % num_buckets for v in values.reshape(-1)]
    return np.asarray(flat, dtype=np.int64).reshape(values.shape)


def _shift_mix(value: int) -> int:
    return value ^ (value >> 47)


def fingerprint_cat64(fp1: int, fp2: int) -> int:
    result = fp1 ^ _MUL
    result ^= (_shift_mix((fp2 * _MUL) & MASK64) * _MUL) & MASK64
    result = (result * _MUL) & MASK64
    result = (_shift_mix(result) * _MUL) & MASK64
    return _shift_mix(result)


def as_decimal(values: np.ndarray) -> np.ndarray:
    """TF's ``as_string`` of integers: the decimal text, ``-`` for negatives."""
    out = np.empty(values.shape, dtype=object)
    flat: Any = out.reshape(-1)
    for index, value in enumerate(values.reshape(-1).tolist()):
        flat[index] = str(value)
    return out
