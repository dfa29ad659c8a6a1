"""The public API documents itself: every callable has a docstring and a typed signature."""

from __future__ import annotations

import doctest
import inspect
from collections.abc import Callable
from typing import Any

import pytest

import kif
import kif.builder


def _public_callables() -> list[tuple[str, Callable[..., Any]]]:
    found = [(name, getattr(kif, name)) for name in kif.__all__ if callable(getattr(kif, name))]
    found += [
        (f"GraphBuilder.{name}", member)
        for name, member in inspect.getmembers(kif.GraphBuilder, inspect.isfunction)
        if not name.startswith("_")
    ]
    found.append(("Model.__call__", kif.Model.__call__))
    return found


def _untyped(obj: Callable[..., Any]) -> list[str]:
    target = obj.__init__ if inspect.isclass(obj) else obj  # type: ignore[misc]
    signature = inspect.signature(target)
    missing = [p.name for p in signature.parameters.values() if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty]
    if not inspect.isclass(obj) and signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


@pytest.mark.parametrize(("name", "obj"), _public_callables(), ids=[n for n, _ in _public_callables()])
def test_public_callable_has_a_docstring_and_annotations(name: str, obj: Callable[..., Any]) -> None:
    assert (inspect.getdoc(obj) or "").strip(), f"{name} has no docstring"
    assert not _untyped(obj), f"{name} lacks annotations for: {_untyped(obj)}"


@pytest.mark.parametrize("method", ["input", "add", "reuse", "output", "build"])
def test_graph_builder_methods_document_every_argument_and_their_errors(method: str) -> None:
    function = getattr(kif.GraphBuilder, method)
    doc = inspect.getdoc(function) or ""
    assert "Raises:" in doc and "kif.KifError" in doc
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name != "self":
            assert f"{parameter.name}:" in doc, f"GraphBuilder.{method} does not document {parameter.name}"
    if method != "output":  # output returns None
        assert "Returns:" in doc


def test_graph_builder_class_example_runs() -> None:
    finder = doctest.DocTestFinder()
    (test,) = [t for t in finder.find(kif.builder, "kif.builder") if t.name == "kif.builder.GraphBuilder"]
    assert test.examples, "GraphBuilder's docstring has no example"
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test)
    assert result.failed == 0 and result.attempted == len(test.examples)
