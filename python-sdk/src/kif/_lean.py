"""Lean stand-ins for two standard-library features, for the modules ``kif.load`` imports: each module a fresh
process imports costs about 0.2 ms, so both live in this one.

**Records** (``Record``, ``Frozen``): fields in ``__slots__``, compared, hashed and shown by field; what ``@dataclass``
gives without its class creation, which costs 0.3-1.3 ms per class (it compiles its generated methods with ``exec``).
``Frozen`` refuses assignment after ``__init__`` (``dataclasses.FrozenInstanceError``, as a frozen dataclass does);
``Record`` allows it and, like a dataclass with ``eq=True``, is unhashable. A subclass lists its fields in
``__match_args__``, takes them in that order in ``__init__`` and sets ``__slots__ = __match_args__``.

**SHA-256** (``sha256_small``, ``sha256_large``): small buffers (safetensors headers, schema files) are hashed with the
interpreter's own ``_sha256`` (Python 3.11) or ``_sha2`` (3.12+) module, which loads in about 0.2 ms, where
``hashlib``'s first import loads OpenSSL (about 5 ms). Both implement SHA-256 (FIPS 180-4), so the digests are the
same (tests/test_open_imports.py). OpenSSL is faster on large buffers (SHA-NI) and releases the GIL, so tensors, which
threads hash in parallel, go through ``hashlib``. An interpreter built without the builtin module uses ``hashlib``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import FrozenInstanceError  # dataclasses is imported by `import kif` already (kif.limits)
from typing import Any


class Record:
    __match_args__: tuple[str, ...] = ()  # the fields, in __init__ order (a dataclass sets it too)
    __slots__: tuple[str, ...] = ()
    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value, as a dataclass with eq=True

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined, no-any-return]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__ if not name.startswith("_"))
        return f"{self.__class__.__qualname__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__class__, self._fields()


class Frozen(Record):
    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._fields())

    def _assign(self, *values: object) -> None:
        """Set the fields, in ``__match_args__`` order, from ``__init__`` (which keeps its typed signature)."""
        for name, value in zip(self.__match_args__, values, strict=True):
            object.__setattr__(self, name, value)


# -- SHA-256 --------------------------------------------------------------------

_NAMES = ("_sha2", "_sha256") if sys.version_info >= (3, 12) else ("_sha256", "_sha2")
_builtin: Callable[[Any], Any] | None = None
_looked = False


def _constructor() -> Callable[[Any], Any]:
    global _builtin, _looked
    if not _looked:
        for name in _NAMES:
            try:
                _builtin = __import__(name).sha256
                break
            except (ImportError, AttributeError):
                continue
        _looked = True
    return _builtin if _builtin is not None else _hashlib_sha256()


def _hashlib_sha256() -> Callable[[Any], Any]:
    import hashlib

    return hashlib.sha256


def sha256_small(data: Any) -> str:
    """Hex SHA-256 of a small buffer (a header, a schema file): no OpenSSL import."""
    return str(_constructor()(data).hexdigest())


def sha256_large(data: Any) -> str:
    """Hex SHA-256 of a tensor's bytes: OpenSSL's (SHA-NI), releasing the GIL so threads hash in parallel."""
    return str(_hashlib_sha256()(data).hexdigest())
