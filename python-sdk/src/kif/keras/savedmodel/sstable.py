"""The TensorBundle index (``variables.index``): a LevelDB-format SSTable, read strictly.

Layout (TensorFlow's core/lib/io table format, which is LevelDB's): data blocks, a metaindex block, an
index block, then a 48-byte footer = metaindex BlockHandle + index BlockHandle (varint offset, varint
size; padded to 40 bytes) + the fixed64 magic 0xdb4775248b80fb57. Each block is followed by a 5-byte
trailer: a compression byte (0 none, 1 Snappy) and the masked CRC-32C of the block and that byte. A block
holds entries (varint shared key prefix, varint unshared length, varint value length, key suffix, value)
and ends with uint32 restart offsets and their count. The index block maps a key ≥ every key of a data
block to that block's handle. TensorFlow writes bundle indexes uncompressed; a compressed block is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kif.errors import KifError
from kif.keras.savedmodel.crc32c import crc32c, unmask
from kif.keras.savedmodel.wire import WireError, read_varint

MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
TRAILER_BYTES = 5
MAX_INDEX_BYTES = 1024**3  # an index holds one small record per tensor; a GiB would be millions of tensors


class TableError(KifError):
    def __init__(self, message: str, file: str) -> None:
        super().__init__(message, code="convert-unreadable", file=file)


def _handle(data: memoryview, pos: int, file: str) -> tuple[tuple[int, int], int]:
    try:
        offset, pos = read_varint(data, pos, "block handle")
        size, pos = read_varint(data, pos, "block handle")
    except WireError as exc:
        raise TableError(f"Corrupt index: {exc.message}", file) from None
    return (offset, size), pos


def _block(data: memoryview, handle: tuple[int, int], file: str, what: str) -> memoryview:
    offset, size = handle
    if offset + size + TRAILER_BYTES > len(data) - FOOTER_BYTES:
        raise TableError(f"Corrupt index: the {what} block [{offset}, +{size}] lies past the end of the file", file)
    body = data[offset : offset + size]
    kind = data[offset + size]
    stored = int.from_bytes(data[offset + size + 1 : offset + size + 5], "little")
    if crc32c(data[offset : offset + size + 1]) != unmask(stored):
        raise TableError(f"Corrupt index: the {what} block at byte {offset} fails its CRC-32C check", file)
    if kind == 1:
        raise TableError(
            f"The {what} block at byte {offset} is Snappy-compressed; TensorFlow writes bundle indexes uncompressed "
            "and KIF reads only those (re-save the model, or convert its .h5)",
            file,
        )
    if kind != 0:
        raise TableError(f"Corrupt index: unknown compression type {kind} of the {what} block at byte {offset}", file)
    return body


def block_entries(block: memoryview, file: str, what: str = "data") -> Iterator[tuple[bytes, memoryview]]:
    """(key, value) of every entry of one block, in order; keys are rebuilt from their shared prefixes."""
    if len(block) < 4:
        raise TableError(f"Corrupt index: a {what} block of {len(block)} bytes has no restart count", file)
    restarts = int.from_bytes(block[-4:], "little")
    if restarts == 0 or restarts > (len(block) - 4) // 4:
        raise TableError(f"Corrupt index: a {what} block declares {restarts} restart points", file)
    end = len(block) - 4 - 4 * restarts
    previous = b""
    pos = 0
    try:
        while pos < end:
            shared, pos = read_varint(block, pos, "block entry")
            unshared, pos = read_varint(block, pos, "block entry")
            size, pos = read_varint(block, pos, "block entry")
            if shared > len(previous) or unshared > end - pos or size > end - pos - unshared:
                raise TableError(f"Corrupt index: an entry of a {what} block at byte {pos} overruns its block", file)
            key = previous[:shared] + bytes(block[pos : pos + unshared])
            pos += unshared
            yield key, block[pos : pos + size]
            pos += size
            previous = key
    except WireError as exc:
        raise TableError(f"Corrupt index: {exc.message}", file) from None


def read_table(path: Path) -> Iterator[tuple[bytes, memoryview]]:
    """Every (key, value) of the table, in key order; keys must be strictly increasing."""
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_INDEX_BYTES:
            raise TableError(f"The index is {size} bytes, more than {MAX_INDEX_BYTES} a bundle index can plausibly need", file)
        data = memoryview(path.read_bytes())
    except OSError as exc:
        raise TableError(f"Cannot read the checkpoint index: {exc.strerror}", file) from None
    return parse_table(data, file)


def parse_table(data: memoryview | bytes, file: str) -> Iterator[tuple[bytes, memoryview]]:
    data = memoryview(data)
    if len(data) < FOOTER_BYTES:
        raise TableError(f"Corrupt index: {len(data)} bytes is shorter than the {FOOTER_BYTES}-byte footer", file)
    footer = data[len(data) - FOOTER_BYTES :]
    if int.from_bytes(footer[-8:], "little") != MAGIC:
        raise TableError("Not a TensorFlow checkpoint index: the footer lacks the table magic number", file)
    _, pos = _handle(footer, 0, file)  # the metaindex block (filters) is not needed
    index_handle, _ = _handle(footer, pos, file)
    index = _block(data, index_handle, file, "index")
    return _entries(data, index, file)


def _entries(data: memoryview, index: memoryview, file: str) -> Iterator[tuple[bytes, memoryview]]:
    last: bytes | None = None
    for _, value in block_entries(index, file, "index"):
        handle, _ = _handle(value, 0, file)
        for key, entry in block_entries(_block(data, handle, file, "data"), file):
            if last is not None and key <= last:
                raise TableError(f"Corrupt index: key {key!r} is out of order after {last!r}", file)
            last = key
            yield key, entry
