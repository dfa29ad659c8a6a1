"""kif.validate.pointer builds RFC 6901 pointers; its fast path (no "~" or "/" in any part) must equal per-part escaping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kif.validate.pointer import pointer

from .fuzz.strategies import fuzz_settings


def _rfc6901(parts: tuple[object, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def test_examples_from_rfc_6901() -> None:
    assert pointer() == ""  # the whole document
    assert pointer("") == "/"  # the member named ""
    assert pointer("a/b") == "/a~1b" and pointer("m~n") == "/m~0n"
    assert pointer("layers", 3, "weights", "kernel") == "/layers/3/weights/kernel"


@fuzz_settings(500)
@given(st.lists(st.text(alphabet="ab~/0 ", max_size=4) | st.integers(-3, 30), max_size=5))
def test_equals_per_part_escaping(parts: list[object]) -> None:
    assert pointer(*parts) == _rfc6901(tuple(parts))
