"""Generate the conformance/invalid/ cases of composite layer types (spec/composites.md, since 0.2.0).

The bundles are the base bundle of ``invalid_bundles.py`` (x -> Dense -> Dense) with its first layer written as a
call of a composite ``acme.test:Block`` whose body is that Dense; each case breaks one rule of a definition. Built
from first principles (JSON), independent of the KIF SDK. Only this module's case folders are replaced:
``python conformance/generators/invalid_composites.py [OUT]``.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from invalid_bundles import DEFAULT_OUT, Bundle, base_bundle
from invalid_digests import write_cases

BLOCK = "acme.test:Block"
Case = tuple[str, str, str, str | None, Callable[[], Bundle]]
CASES: list[Case] = []


def composite_bundle() -> Bundle:
    """The base bundle at 0.2.0, dense_1 written as a call of BLOCK (parameter units, weight roles kernel and bias)."""
    bundle = base_bundle()
    doc = bundle.document
    assert doc is not None
    doc["kif_version"] = "0.2.0"
    first = doc["layers"][0]
    body = copy.deepcopy(first)
    body.update(name="dense", inputs=["in"], outputs=["out"], weights={"kernel": "kernel", "bias": "bias"})
    body["attributes"]["units"] = {"$param": "units"}
    doc["composites"] = {BLOCK: {"parameters": {"units": {"type": "integer"}}, "inputs": ["in"], "outputs": ["out"],
                                 "weights": ["kernel", "bias"], "layers": [body]}}  # fmt: skip
    first.update(type=BLOCK, attributes={"units": 3})
    return bundle


def _body(bundle: Bundle) -> dict[str, Any]:
    assert bundle.document is not None
    return bundle.document["composites"][BLOCK]  # type: ignore[no-any-return]


def case(code: str, pointer: str | None, description: str) -> Callable[[Callable[[], Bundle]], Callable[[], Bundle]]:
    def decorate(make: Callable[[], Bundle]) -> Callable[[], Bundle]:
        CASES.append((make.__name__.replace("_", "-"), description, code, pointer, make))
        return make

    return decorate


@case("composite-recursive", "/composites/acme.test:Block", "A composite's body calls the composite itself")
def composite_recursive() -> Bundle:
    bundle = composite_bundle()
    _body(bundle)["layers"][0]["type"] = BLOCK
    return bundle


@case("graph-dangling-reference", "/composites/acme.test:Block/layers/0/inputs/0", "A composite body layer reads a tensor nothing defines")
def composite_dangling_input() -> Bundle:
    bundle = composite_bundle()
    _body(bundle)["layers"][0]["inputs"] = ["elsewhere"]
    return bundle


@case("layer-attribute-invalid", "/composites/acme.test:Block/layers/0/attributes/units", "A composite body uses an undeclared parameter")
def composite_unknown_parameter() -> Bundle:
    bundle = composite_bundle()
    _body(bundle)["layers"][0]["attributes"]["units"] = {"$param": "width"}
    return bundle


@case("schema-violation", "/composites", "A kif_version 0.1.0 document defines a composite, a spec 0.2.0 feature")
def composite_in_0_1_0() -> Bundle:
    bundle = composite_bundle()
    assert bundle.document is not None
    bundle.document["kif_version"] = "0.1.0"
    return bundle


def generate(out: Path = DEFAULT_OUT) -> list[str]:
    """Write this module's cases under ``out`` (replacing only folders of the same ids); return the case ids."""
    return write_cases(CASES, out)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    print(f"wrote {len(generate(target))} cases to {target}")
