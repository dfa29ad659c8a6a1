"""CRC-32C (Castagnoli), as TensorFlow checkpoints and their SSTable index store it, with NumPy only.

Hand-written because the one well-kept package (google-crc32c) is a compiled extension we would add as a
hard dependency for a single checksum; when it is installed it is used, as it is faster. The NumPy path
splits the input into many equal lanes, runs the byte-wise table recurrence on all lanes at once, and
folds the lanes together with the "append n zero bytes" operator (linear over GF(2)), so a large tensor
costs a few thousand vectorised steps instead of one Python step per byte.

``mask``/``unmask`` are LevelDB's rotation used wherever a CRC is stored next to the data it covers.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

POLY = 0x82F63B78  # reflected Castagnoli polynomial
MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_PIECE = 8 * 1024 * 1024


def _table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(POLY), table >> 1).astype(np.uint32)
    return table


TABLE = _table()
# SLICES[k][b]: the register after byte b followed by k zero bytes (slicing-by-4 tables).
SLICES = [TABLE]
for _ in range(3):
    SLICES.append(((SLICES[-1] >> 8) ^ TABLE[SLICES[-1] & 0xFF]).astype(np.uint32))


def mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + MASK_DELTA) & _U32


def unmask(masked: int) -> int:
    rot = (masked - MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


# A linear map on 32-bit registers is kept as four 256-entry tables, one per input byte.
def _apply(op: np.ndarray, value: np.ndarray) -> np.ndarray:
    return op[0][value & 0xFF] ^ op[1][(value >> 8) & 0xFF] ^ op[2][(value >> 16) & 0xFF] ^ op[3][value >> 24]


def _from_columns(columns: np.ndarray) -> np.ndarray:
    """Byte tables of the linear map whose image of bit i is columns[i]."""
    out = np.zeros((4, 256), dtype=np.uint32)
    byte = np.arange(256, dtype=np.uint32)
    for lane in range(4):
        for bit in range(8):
            out[lane] ^= np.where((byte >> bit) & 1, columns[lane * 8 + bit], 0).astype(np.uint32)
    return out


@lru_cache(maxsize=64)
def _zeros_operator(count: int) -> np.ndarray:
    """The map: register → register after ``count`` zero bytes (by squaring the one-byte map)."""
    bits = np.uint32(1) << np.arange(32, dtype=np.uint32)
    one = _from_columns(TABLE[bits & 0xFF] ^ (bits >> 8))
    result = _from_columns(bits)  # identity
    power = one
    while count:
        if count & 1:
            result = _from_columns(_apply(power, _apply(result, bits)))
        count >>= 1
        if count:
            power = _from_columns(_apply(power, _apply(power, bits)))
    return result


def _raw_scalar(register: int, data: bytes | memoryview) -> int:
    table = TABLE.tolist()
    for byte in bytes(data):
        register = table[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register


def _raw_zero_init(data: np.ndarray) -> int:
    """The register after ``data`` starting from 0 (linear in the data), by lanes of 4-byte words."""
    size = data.size
    lanes = 1 << max(0, min(16, (size // 1024).bit_length() - 1))
    steps = -(-size // (4 * lanes))
    padded = np.zeros(lanes * steps * 4, dtype=np.uint8)
    padded[padded.size - size :] = data  # leading zeros leave a zero register unchanged
    words = np.ascontiguousarray(padded.view("<u4").reshape(lanes, steps).T)  # one contiguous row per step
    t0, t1, t2, t3 = SLICES
    state = np.zeros(lanes, dtype=np.uint32)
    for row in words:  # slicing-by-4: one word of every lane per step
        state ^= row
        state = t3[state & 0xFF] ^ t2[(state >> 8) & 0xFF] ^ t1[(state >> 16) & 0xFF] ^ t0[state >> 24]
    span = 4 * steps
    while state.size > 1:  # fold pairs: reg(A‖B) = zeros(|B|)(reg(A)) ^ reg(B)
        state = _apply(_zeros_operator(span), state[0::2]) ^ state[1::2]
        span *= 2
    return int(state[0])


def _native(data: bytes | memoryview, crc: int) -> int | None:
    try:
        import google_crc32c
    except ImportError:
        return None
    return int(google_crc32c.extend(crc, bytes(data)))


def crc32c(data: bytes | memoryview | np.ndarray, crc: int = 0, *, native: bool = True) -> int:
    """CRC-32C of ``data``, continuing from the CRC ``crc`` of what came before it."""
    buffer = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1).view(np.uint8)
    if native:
        found = _native(memoryview(buffer), crc)
        if found is not None:
            return found
    if buffer.size > _PIECE:  # pieces that fit in cache are faster than one pass over a large tensor
        for start in range(0, buffer.size, _PIECE):
            crc = crc32c(buffer[start : start + _PIECE], crc, native=False)
        return crc
    register = crc ^ _U32
    if buffer.size < 4096:
        return _raw_scalar(register, buffer.tobytes()) ^ _U32
    shifted = int(_apply(_zeros_operator(buffer.size), np.array([register], dtype=np.uint32))[0])
    return (shifted ^ _raw_zero_init(buffer)) ^ _U32
