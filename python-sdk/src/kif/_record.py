"""Small records for the modules ``kif.load`` imports: fields in ``__slots__``, compared, hashed and shown by field.

What ``@dataclass`` gives, without its class creation: a dataclass costs 0.3-1.3 ms to define (it compiles its
generated methods with ``exec``), about as much as the rest of a lazy open per class. ``Frozen`` refuses assignment
after ``__init__`` (``dataclasses.FrozenInstanceError``, as a frozen dataclass does); ``Record`` allows it and, like
a dataclass with ``eq=True``, is unhashable. A subclass lists its fields in ``__match_args__``, takes them in that
order in ``__init__`` and sets ``__slots__ = __match_args__``.
"""

from __future__ import annotations

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
