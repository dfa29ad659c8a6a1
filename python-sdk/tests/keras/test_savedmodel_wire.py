"""The SavedModel readers' lowest layers, on hand-derived bytes: the protobuf wire reader (varints,
truncation, bounded lengths, nesting), CRC-32C against published check values and a bit-by-bit oracle,
the SSTable parser on tables built here byte by byte, TensorFlow's slice keys; plus brief seeded fuzzing
(no example database) asserting that hostile bytes raise a ``kif`` error and nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kif import limits
from kif.errors import KifError
from kif.keras.savedmodel import wire
from kif.keras.savedmodel.bundle_entry import parse_entry
from kif.keras.savedmodel.crc32c import crc32c, mask, unmask
from kif.keras.savedmodel.sstable import MAGIC, parse_table
from kif.keras.savedmodel.tensors import slice_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "savedmodel"
FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- varints and messages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "value"),
    [(b"\x00", 0), (b"\x01", 1), (b"\x96\x01", 150), (b"\xff\x7f", 16383), (b"\xff" * 9 + b"\x01", 2**64 - 1)],
)
def test_varint_values(data: bytes, value: int) -> None:
    assert wire.read_varint(data, 0) == (value, len(data))


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\x96", "truncated varint"),
        (b"", "truncated varint"),
        (b"\xff" * 9 + b"\x02", "overflows 64 bits"),  # bit 64 set in the tenth byte
        (b"\x80" * 10 + b"\x00", "overflows 64 bits"),  # an eleventh byte is never valid
    ],
)
def test_varint_refusals(data: bytes, says: str) -> None:
    with pytest.raises(wire.WireError, match=says):
        wire.read_varint(data, 0)


def test_message_fields() -> None:
    # field 1 varint 150; field 2 "testing"; field 3 fixed32 1; field 4 fixed64 2; field 1 again (repeated)
    data = b"\x08\x96\x01" + b"\x12\x07testing" + b"\x1d\x01\x00\x00\x00" + b"\x21" + (2).to_bytes(8, "little") + b"\x08\x05"
    fields = wire.parse(data)
    assert fields[1] == [150, 5] and bytes(fields[2][0]) == b"testing" and fields[3] == [1] and fields[4] == [2]
    assert wire.integer(fields, 1, "m") == 5  # the last occurrence wins for a scalar
    assert wire.text(fields, 2, "m") == "testing"
    assert wire.integer({1: [2**64 - 1]}, 1, "m") == -1 and wire.integer({1: [2**32 - 1]}, 1, "m", bits=32) == -1
    assert wire.packed_varints({5: [memoryview(b"\x01\x96\x01\x03")]}, 5, "m") == [1, 150, 3]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\x12\x08testing", "declares 8 bytes at byte 2, but only 7 remain"),
        (b"\x12\xff\xff\xff\xff\x0f", "declares 4294967295 bytes"),  # a huge length is refused, never allocated
        (b"\x1d\x01\x02", "truncated fixed32"),
        (b"\x21\x01", "truncated fixed64"),
        (b"\x0b", "unsupported group"),
        (b"\x0c", "unsupported group"),
        (b"\x0e\x00", "wire type 6"),
        (b"\x00\x01", "invalid field number 0"),
        (b"\x08", "truncated varint"),
    ],
)
def test_message_refusals(data: bytes, says: str) -> None:
    with pytest.raises(wire.WireError, match=says):
        wire.parse(data, "m")


def test_wrong_kind_of_field_is_refused() -> None:
    with pytest.raises(wire.WireError, match="should be an integer"):
        wire.integer(wire.parse(b"\x0a\x00"), 1, "m")
    with pytest.raises(wire.WireError, match="length-delimited"):
        wire.submessage(wire.parse(b"\x08\x01"), 1, "m", 0)
    with pytest.raises(wire.WireError, match="not valid UTF-8"):
        wire.text(wire.parse(b"\x0a\x01\xff"), 1, "m")


def test_nesting_depth_is_bounded() -> None:
    data = b""
    for _ in range(8):
        data = b"\x0a" + bytes([len(data)]) + data
    with limits.override(max_nesting_depth=5), pytest.raises(wire.WireError, match="nested deeper than 5"):
        fields, depth = wire.parse(data), 0
        while 1 in fields:
            fields, depth = wire.submessage(fields, 1, "m", depth), depth + 1


# --- CRC-32C --------------------------------------------------------------------------------------


def _bitwise(data: bytes) -> int:
    register = 0xFFFFFFFF
    for byte in data:
        register ^= byte
        for _ in range(8):
            register = (register >> 1) ^ 0x82F63B78 if register & 1 else register >> 1
    return register ^ 0xFFFFFFFF


@pytest.mark.parametrize(
    ("data", "crc"),
    [  # RFC 3720 appendix B.4 and the common check value
        (b"123456789", 0xE3069283),
        (bytes(32), 0x8A9136AA),
        (b"\xff" * 32, 0x62A8AB43),
        (bytes(range(32)), 0x46DD794E),
        (bytes(range(31, -1, -1)), 0x113FDB5C),
    ],
)
def test_crc32c_check_values(data: bytes, crc: int) -> None:
    assert crc32c(data, native=False) == crc


@pytest.mark.parametrize("size", [4095, 4096, 4097, 70_001, 300_000])
def test_crc32c_lanes_agree_with_the_bitwise_definition(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    whole = crc32c(data, native=False)
    assert whole == _bitwise(data)
    cut = size // 3
    assert crc32c(data[cut:], crc32c(data[:cut], native=False), native=False) == whole


def test_crc32c_of_a_large_buffer_goes_piece_by_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    import kif.keras.savedmodel.crc32c as module

    data = np.random.default_rng(7).integers(0, 256, 250_001, dtype=np.uint8).tobytes()
    monkeypatch.setattr(module, "_PIECE", 65_536)
    assert crc32c(data, native=False) == _bitwise(data)


def test_crc_mask_is_leveldbs() -> None:
    assert mask(0) == 0xA282EAD8
    assert all(unmask(mask(v)) == v for v in (0, 1, 0xFFFFFFFF, 0x12345678))


# --- SSTable --------------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = b""
    while value >= 0x80:
        out += bytes([(value & 0x7F) | 0x80])
        value >>= 7
    return out + bytes([value])


def _block(entries: list[tuple[bytes, bytes]], previous_sharing: bool = True) -> bytes:
    out, previous = b"", b""
    for key, value in entries:
        shared = 0
        while previous_sharing and shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
            shared += 1
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value)) + key[shared:] + value
        previous = key
    return out + (0).to_bytes(4, "little") + (1).to_bytes(4, "little")  # one restart point, at 0


def _table(entries: list[tuple[bytes, bytes]], compression: int = 0) -> bytes:
    def framed(body: bytes, kind: int = 0) -> bytes:
        return body + bytes([kind]) + mask(crc32c(body + bytes([kind]))).to_bytes(4, "little")

    data_block = framed(_block(entries), compression)
    data_size = len(data_block) - 5
    meta_block = framed(_block([]))
    index_block = framed(_block([(entries[-1][0], _varint(0) + _varint(data_size))]))
    meta_at, index_at = len(data_block), len(data_block) + len(meta_block)
    handles = _varint(meta_at) + _varint(len(meta_block) - 5) + _varint(index_at) + _varint(len(index_block) - 5)
    footer = handles.ljust(40, b"\x00") + MAGIC.to_bytes(8, "little")
    return data_block + meta_block + index_block + footer


ENTRIES = [(b"", b"\x08\x01"), (b"layer/bias", b"B"), (b"layer/kernel", b"KK"), (b"other", b"")]


def test_table_round_trip_with_prefix_compression() -> None:
    assert [(k, bytes(v)) for k, v in parse_table(_table(ENTRIES), "t")] == ENTRIES


@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        (lambda t: t[:-1] + bytes([t[-1] ^ 1]), "lacks the table magic number"),
        (lambda t: t[:-48] + t[-47:], "lies past the end of the file"),
        (lambda t: t[:40], "shorter than the 48-byte footer"),
        (lambda t: bytes([t[0] ^ 1]) + t[1:], "fails its CRC-32C check"),
    ],
)
def test_table_refusals(mutate, says: str) -> None:
    with pytest.raises(KifError, match=says):
        list(parse_table(mutate(_table(ENTRIES)), "t"))


def test_snappy_blocks_are_refused_by_name() -> None:
    with pytest.raises(KifError, match="Snappy-compressed"):
        list(parse_table(_table(ENTRIES, compression=1), "t"))


def test_keys_out_of_order_are_refused() -> None:
    with pytest.raises(KifError, match="out of order"):
        list(parse_table(_table([(b"b", b""), (b"a", b"")]), "t"))


# --- slice keys -----------------------------------------------------------------------------------


def test_slice_key_matches_the_one_tensorflow_wrote() -> None:
    name = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert slice_key(name, [(0, 6), (0, 32)]) == b"\x00" + name.encode() + b"\x00\x01\x01\x02\x80\x86\x80\xa0"
    assert slice_key("a", [(0, -1)]) == b"\x00a\x00\x01\x01\x01\x80\x7f"  # -1: the whole dimension
    assert slice_key("a", [(100, 1)]) == b"\x00a\x00\x01\x01\x01\xc0\x64\x81"  # two-byte form: 110 + 13 bits


# --- fuzz -----------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=200))
def test_wire_reader_on_random_bytes_raises_only_kif_errors(data: bytes) -> None:
    try:
        fields = wire.parse(data, "fuzz")
        for values in fields.values():
            for value in values:
                if isinstance(value, memoryview):
                    wire.parse(value, "fuzz", depth=1)
    except KifError:
        pass


INDEX = (FIXTURES / "sharded_mlp" / "saved" / "variables" / "variables.index").read_bytes()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(INDEX) - 1), st.integers(0, 255)), min_size=1, max_size=4), st.integers(0, 64))
def test_sstable_parser_on_mutated_index_raises_only_kif_errors(changes: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(INDEX)
    for at, byte in changes:
        data[at] = byte
    try:
        for key, value in parse_table(bytes(data[: len(data) - cut]), "fuzz"):
            if key:
                parse_entry(repr(key), value, "fuzz")
    except KifError:
        pass
