"""Boundaries of the rules spec/errors.md assigned codes to: binary64 range, bool bytes, ZIP versions, inputs."""

from __future__ import annotations

import pytest

from kif import strict_json
from kif.bundle.container import MAX_EXTRACT_VERSION
from kif.validate.inputs import groups

# The largest finite binary64 is (2 - 2^-52) * 2^1023; halfway to 2^1024 (2^1024 - 2^970) rounds to infinity.
LARGEST_FINITE = (2**53 - 1) * 2**971


def test_integers_beyond_binary64_are_refused_and_the_largest_finite_one_is_not() -> None:
    assert float(strict_json.loads(str(LARGEST_FINITE))) == 1.7976931348623157e308
    edge = 2**1024 - 2**970 - 1  # still rounds down to the largest finite value
    assert strict_json.loads(str(edge)) == edge
    for text in (str(2**1024 - 2**970), "-" + str(2**1024), "1" + "0" * 309):
        with pytest.raises(ValueError, match="binary64"):
            strict_json.loads(f"[{text}]")
    with pytest.raises(ValueError):
        strict_json.loads("1e999")


def test_zip_version_limit_is_zip64() -> None:
    assert MAX_EXTRACT_VERSION == 45


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        ({"type": "LSTM", "attributes": {}}, [range(1, 3)]),
        ({"type": "GRU", "attributes": {}}, [range(1, 2)]),
        ({"type": "Dense", "attributes": {}}, []),
        (
            {"type": "Bidirectional", "attributes": {"forward": {"type": "LSTM"}, "backward": {"type": "GRU"}}},
            [range(1, 3), range(3, 4)],  # [x, h_f, c_f, h_b, mask] (spec/layers/Bidirectional.md)
        ),
    ],
)
def test_initial_state_groups(layer: dict, expected: list[range]) -> None:
    assert groups(layer) == expected
