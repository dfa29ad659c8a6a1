"""A strict reader of the protobuf wire format, for the few TensorFlow messages a SavedModel needs.

No generated code and no ``protobuf`` dependency: a message is decoded into ``{field number: [values]}``
where a value is an int (varint, fixed32, fixed64) or a ``memoryview`` (length-delimited: a string, bytes,
a packed array or a sub-message, decoded on demand by the caller who knows which it is). Every read is
bounded by the enclosing buffer: a varint longer than 10 bytes or above 2**64, a length past the end, a
deprecated group, an unknown wire type or nesting deeper than ``kif.limits`` max_nesting_depth raise ``WireError`` naming
the message and the byte offset. Nothing is allocated beyond the input itself.
"""

from __future__ import annotations

from kif import limits
from kif.errors import KifError

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5

Fields = dict[int, list["int | memoryview"]]


class WireError(KifError):
    """A protobuf message is malformed; the message says which one and at which byte."""

    def __init__(self, message: str, *, file: str | None = None, pointer: str | None = None) -> None:
        super().__init__(message, code="convert-unreadable", file=file, pointer=pointer)


def read_varint(data: memoryview | bytes, pos: int, what: str = "message") -> tuple[int, int]:
    """(value, next position) of the varint at ``pos``; at most 10 bytes and below 2**64."""
    result = 0
    shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise WireError(f"{what}: truncated varint at byte {pos}")
        byte = data[pos]
        pos += 1
        if shift == 63 and byte > 1:
            raise WireError(f"{what}: varint overflows 64 bits at byte {pos - 1}")
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError(f"{what}: varint longer than 10 bytes at byte {pos - 1}")


def signed(value: int, bits: int = 64) -> int:
    """A varint read as a two's-complement intN (protobuf int32/int64 fields)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def parse(data: bytes | memoryview, what: str = "message", *, depth: int = 0) -> Fields:
    """Every field of one message, in order of appearance per field number (repeated fields keep order)."""
    limit = limits.current().max_nesting_depth  # the messages read here nest at most 6 deep
    if depth > limit:
        raise WireError(f"{what}: messages nested deeper than {limit}")
    view = memoryview(data) if not isinstance(data, memoryview) else data
    fields: Fields = {}
    pos, end = 0, len(view)
    while pos < end:
        key, pos = read_varint(view, pos, what)
        number, wire_type = key >> 3, key & 7
        if number == 0 or number >= 1 << 29:
            raise WireError(f"{what}: invalid field number {number} at byte {pos}")
        value: int | memoryview
        if wire_type == VARINT:
            value, pos = read_varint(view, pos, what)
        elif wire_type in (FIXED64, FIXED32):
            width = 8 if wire_type == FIXED64 else 4
            if pos + width > end:
                raise WireError(f"{what}: truncated fixed{width * 8} field {number} at byte {pos}")
            value = int.from_bytes(view[pos : pos + width], "little")
            pos += width
        elif wire_type == LENGTH:
            length, pos = read_varint(view, pos, what)
            if length > end - pos:
                raise WireError(f"{what}: field {number} declares {length} bytes at byte {pos}, but only {end - pos} remain")
            value = view[pos : pos + length]
            pos += length
        else:
            name = "group" if wire_type in (START_GROUP, END_GROUP) else f"wire type {wire_type}"
            raise WireError(f"{what}: unsupported {name} in field {number} at byte {pos}")
        fields.setdefault(number, []).append(value)
    return fields


def submessage(fields: Fields, number: int, what: str, depth: int) -> Fields:
    """The last occurrence of a sub-message field (protobuf's rule for a non-repeated field), parsed; {} if absent."""
    values = fields.get(number)
    if not values:
        return {}
    return parse(_bytes(values[-1], what), what, depth=depth + 1)


def messages(fields: Fields, number: int, what: str, depth: int) -> list[Fields]:
    """Every occurrence of a repeated sub-message field, parsed."""
    return [parse(_bytes(v, what), what, depth=depth + 1) for v in fields.get(number, [])]


def integer(fields: Fields, number: int, what: str, *, bits: int = 64, default: int = 0) -> int:
    values = fields.get(number)
    if not values:
        return default
    value = values[-1]
    if isinstance(value, memoryview):
        raise WireError(f"{what}: field {number} should be an integer, found a length-delimited value")
    return signed(value, bits)


def unsigned(fields: Fields, number: int, what: str, default: int = 0) -> int:
    values = fields.get(number)
    if not values:
        return default
    value = values[-1]
    if isinstance(value, memoryview):
        raise WireError(f"{what}: field {number} should be an integer, found a length-delimited value")
    return value


def text(fields: Fields, number: int, what: str, default: str = "") -> str:
    values = fields.get(number)
    if not values:
        return default
    try:
        return bytes(_bytes(values[-1], what)).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"{what}: field {number} is not valid UTF-8") from None


def texts(fields: Fields, number: int, what: str) -> list[str]:
    out = []
    for value in fields.get(number, []):
        try:
            out.append(bytes(_bytes(value, what)).decode("utf-8"))
        except UnicodeDecodeError:
            raise WireError(f"{what}: field {number} is not valid UTF-8") from None
    return out


def packed_varints(fields: Fields, number: int, what: str) -> list[int]:
    """A repeated varint field, packed (one length-delimited run) or not, in order."""
    out: list[int] = []
    for value in fields.get(number, []):
        if isinstance(value, int):
            out.append(value)
            continue
        pos = 0
        while pos < len(value):
            item, pos = read_varint(value, pos, what)
            out.append(item)
    return out


def _bytes(value: int | memoryview, what: str) -> memoryview:
    if not isinstance(value, memoryview):
        raise WireError(f"{what}: expected a length-delimited field, found an integer")
    return value
