"""The converter's one error type, and the wording of its limit refusals."""

from __future__ import annotations

from kif.errors import KifError


class ConversionError(KifError):
    """A Keras file cannot be converted; the message names the file, the layer or JSON pointer, and why."""


def too_large(what: str, size: int, limit_name: str, limit: int, *, file: str | None = None, pointer: str | None = None) -> ConversionError:
    """A refusal of a file-controlled size, naming the limit and how to raise it."""
    return ConversionError(
        f"{what} declares {size:,} bytes, more than {limit_name}={limit:,} (raise it with KIF_{limit_name.upper()} or kif.limits.override)",
        code="convert-too-large",
        file=file,
        pointer=pointer,
    )
