"""The in-memory model: what a graph document says, plus its weights.

``Model.from_document`` and ``Model.to_document`` are the only places that know
the JSON layout of model.json; everything else works on these dataclasses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from reprlib import recursive_repr
from typing import Any

import numpy as np

from kif import SPEC_VERSION as SPEC_VERSION  # re-exported; defined in the package so that `kif --version` needs no NumPy

Shape = tuple[int | None, ...]


class _Factory:
    """The default of a field whose value is made per instance (``field(default_factory=...)``)."""

    def __repr__(self) -> str:
        return "<factory>"


_NEW = _Factory()


class _ByFields:
    """``__eq__`` and ``__repr__`` as ``@dataclass`` writes them, for the dataclasses below, which are declared with
    ``init=False, repr=False, eq=False``: generating those methods (``exec``) cost every ``kif.load`` in a fresh process
    about 1 ms. They stay dataclasses (``dataclasses.fields``, ``replace``, ``asdict`` work as before)."""

    __match_args__: tuple[str, ...]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return tuple(getattr(self, n) for n in self.__match_args__) == tuple(getattr(other, n) for n in self.__match_args__)

    @recursive_repr()
    def __repr__(self) -> str:
        return f"{self.__class__.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__match_args__)})"


@dataclass(init=False, repr=False, eq=False)
class TensorSpec(_ByFields):
    """A graph input or output: name, dtype, shape (None = unknown) and typed metadata."""

    name: str
    dtype: str
    shape: Shape
    meta: dict[str, Any] = field(default_factory=dict)

    def __init__(self, name: str, dtype: str, shape: Shape, meta: dict[str, Any] = _NEW) -> None:  # type: ignore[assignment]
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.meta = {} if meta is _NEW else meta

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TensorSpec:
        return cls(data["name"], data["dtype"], tuple(data["shape"]), dict(data.get("meta", {})))


@dataclass(init=False, repr=False, eq=False)
class Layer(_ByFields):
    """One layer call: reads ``inputs``, writes ``outputs``, uses weights by role."""

    name: str
    type: str
    attributes: dict[str, Any]
    inputs: list[str | None]
    outputs: list[str]
    weights: dict[str, str] = field(default_factory=dict)  # role -> tensor name in the index

    def __init__(
        self,
        name: str,
        type: str,
        attributes: dict[str, Any],
        inputs: list[str | None],
        outputs: list[str],
        weights: dict[str, str] = _NEW,  # type: ignore[assignment]
    ) -> None:
        self.name = name
        self.type = type
        self.attributes = attributes
        self.inputs = inputs
        self.outputs = outputs
        self.weights = {} if weights is _NEW else weights

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "attributes": self.attributes,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "weights": dict(self.weights),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Layer:
        return cls(
            data["name"],
            data["type"],
            dict(data["attributes"]),
            list(data["inputs"]),
            list(data["outputs"]),
            dict(data["weights"]),
        )


@dataclass(init=False, repr=False, eq=False)
class SelfTest(_ByFields):
    """A golden sample a runtime can check the bundle against."""

    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    rtol: float
    atol: float

    def __init__(self, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray], rtol: float, atol: float) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.rtol = rtol
        self.atol = atol


@dataclass(init=False, repr=False, eq=False)
class Model(_ByFields):
    """A KIF model. ``weights`` maps tensor names to arrays (memory-mapped when loaded)."""

    name: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    layers: list[Layer]
    weights: Mapping[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    license: str | None = None
    preprocessing: str | None = None
    producer: dict[str, str] = field(default_factory=dict)
    # The version the document was read with, or one set by the caller; None for a model built in memory. Writers
    # stamp document_version(): the lowest version the layers need, or this one when it is higher.
    kif_version: str | None = None
    self_test: SelfTest | None = None
    # Composite layer types this model defines (spec/composites.md): type -> definition, as in model.json.
    composites: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        name: str,
        inputs: list[TensorSpec],
        outputs: list[TensorSpec],
        layers: list[Layer],
        weights: Mapping[str, np.ndarray] = _NEW,  # type: ignore[assignment]
        metadata: dict[str, str] = _NEW,  # type: ignore[assignment]
        description: str | None = None,
        license: str | None = None,
        preprocessing: str | None = None,
        producer: dict[str, str] = _NEW,  # type: ignore[assignment]
        kif_version: str | None = None,
        self_test: SelfTest | None = None,
        composites: dict[str, Any] = _NEW,  # type: ignore[assignment]
    ) -> None:
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.layers = layers
        self.weights = {} if weights is _NEW else weights
        self.metadata = {} if metadata is _NEW else metadata
        self.description = description
        self.license = license
        self.preprocessing = preprocessing
        self.producer = {} if producer is _NEW else producer
        self.kif_version = kif_version
        self.self_test = self_test
        self.composites = {} if composites is _NEW else composites

    def __call__(self, inputs: Mapping[str, Any] | np.ndarray, *, engine: str = "reference", threads: int = 1) -> dict[str, np.ndarray]:
        """Run the model with the NumPy reference runtime (or ``engine``), as ``kif.run(model, inputs)`` does.

        Args:
            inputs: one array for a single-input model, or a dict keyed by input name.
            engine: ``"reference"``, ``"onnxruntime"`` or ``"torch"`` (see :mod:`kif.engines`).
            threads: intra-op threads of the onnxruntime and torch engines.

        Returns:
            The outputs keyed by graph output name, in graph order.

        Raises:
            kif.KifError: inputs that do not match the declared names, dtypes or shapes,
                or a layer the reference runtime does not implement.
        """
        if engine == "reference":
            from kif.runtime import run  # lazy: the runtime pulls in every kernel

            return run(self, inputs)
        from kif.engines import run as run_engine

        return run_engine(self, inputs, engine=engine, threads=threads)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def parameter_count(self) -> int:
        shapes = getattr(self.weights, "shapes", None)  # LazyWeights: from the headers, touching no tensor (remote: no read)
        found = shapes() if callable(shapes) else {n: a.shape for n, a in self.weights.items()}
        return int(sum(int(np.prod(shape)) for shape in found.values()))

    def document_version(self) -> str:
        """The ``kif_version`` a writer stamps (``kif.catalog.stamp_version``): e.g. "0.1.0" when the model uses
        only 0.1.0 layer types and activations, so that 0.1 readers still read it."""
        from kif.catalog import stamp_version, version_key  # lazy: the catalog reads the schemas

        body = [inner for definition in self.composites.values() for inner in definition.get("layers", [])]
        stamped = stamp_version(self.kif_version, [*self.layers, *body])
        if self.composites and version_key(stamped) < version_key("0.2.0"):
            return "0.2.0"  # composites are a 0.2.0 feature
        return stamped

    def inlined(self) -> Model:
        """This model with every composite call replaced by its body (what runtimes and importers execute)."""
        if not self.composites:
            return self
        from kif.composites import inline

        return dataclasses.replace(self, layers=inline(self.layers, self.composites)[0], composites={})

    def header_json(self) -> dict[str, Any]:
        """Every field of model.json except ``weights`` and ``self_test`` (written by the writer)."""
        doc: dict[str, Any] = {
            "kif_version": self.document_version(),
            "producer": self.producer,
            "name": self.name,
        }
        for key in ("description", "license", "preprocessing"):
            value = getattr(self, key)
            if value is not None:
                doc[key] = value
        if self.metadata:
            doc["metadata"] = dict(self.metadata)
        doc["inputs"] = [spec.to_json() for spec in self.inputs]
        doc["outputs"] = [spec.to_json() for spec in self.outputs]
        if self.composites:
            doc["composites"] = dict(self.composites)
        doc["layers"] = [layer.to_json() for layer in self.layers]
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Model:
        return cls(
            name=doc["name"],
            inputs=[TensorSpec.from_json(d) for d in doc["inputs"]],
            outputs=[TensorSpec.from_json(d) for d in doc["outputs"]],
            layers=[Layer.from_json(d) for d in doc["layers"]],
            weights=weights,
            metadata=dict(doc.get("metadata", {})),
            description=doc.get("description"),
            license=doc.get("license"),
            preprocessing=doc.get("preprocessing"),
            producer=dict(doc["producer"]),
            kif_version=doc["kif_version"],
            composites=dict(doc.get("composites", {})),
        )
