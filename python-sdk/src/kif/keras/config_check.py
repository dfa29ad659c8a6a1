"""Keras configs are checked before the converter reads them: size, nesting, text, and structure.

``load_json`` bounds the document (``max_document_bytes``) and its nesting
(``max_nesting_depth``, measured by a linear scan before parsing, so 10,000 nested
lists are refused rather than recursed into), and refuses lone UTF-16 surrogates,
which would crash every later writer of the text. ``check_model`` then checks every
key and type the topology builder relies on (class names, layer lists, names, call
nodes and tensor references), naming the JSON pointer and what was expected, so the
builder can index the config without a KeyError, TypeError or IndexError.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from kif import limits
from kif.keras.errors import ConversionError, too_large
from kif.keras.topology import CONSTANT_VALUE, is_legacy_entry

MODEL_CLASSES = {"Sequential", "Functional", "Model"}
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHAPE_KEYS = ("batch_shape", "batch_input_shape", "input_shape", "shape")


def fail(message: str, file: str | None, pointer: str) -> ConversionError:
    return ConversionError(message, code="convert-config", file=file, pointer=pointer or "/")


def json_depth(data: bytes) -> int:
    """Deepest nesting of arrays and objects, counted without recursion (strings removed first)."""
    brackets = _STRING.sub(b'""', data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def load_json(data: bytes | str, file: str) -> Any:
    """Parse a Keras JSON document within the limits; every failure is a ConversionError naming ``file``."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    current = limits.current()
    if len(raw) > current.max_document_bytes:
        raise too_large("The JSON document", len(raw), "max_document_bytes", current.max_document_bytes, file=file)
    depth = json_depth(raw)
    if depth > current.max_nesting_depth:
        raise fail(f"Expected JSON nested at most max_nesting_depth={current.max_nesting_depth} deep. Received: depth {depth}", file, "")
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConversionError(
            f"Expected UTF-8 JSON. Received: an undecodable byte at offset {exc.start}", code="convert-unreadable", file=file
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ConversionError(f"Expected JSON: {exc}", code="convert-unreadable", file=file) from None
    check_text(value, file)
    return value


def check_text(value: Any, file: str | None) -> None:
    """Refuse lone surrogates ('\\udc80') in any key or string: they cannot be written as UTF-8 later."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, pointer = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise fail("Expected text without lone UTF-16 surrogates. Received: " + ascii(item)[:80], file, pointer)
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{pointer}/{_escape(key)}"
                if _SURROGATE.search(key):
                    raise fail("Expected keys without lone UTF-16 surrogates. Received: " + ascii(key)[:80], file, where)
                stack.append((child, where))
        elif isinstance(item, list):
            stack.extend((child, f"{pointer}/{index}") for index, child in enumerate(item))


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


class _Checker:
    """Walks a model config once; ``count`` bounds the layers and calls against ``max_layers``."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.count = 0
        self.depth = 0  # Pipelines inside Pipelines
        self.max_layers = limits.current().max_layers

    def expect(self, ok: bool, what: str, value: Any, pointer: str) -> None:
        if not ok:
            raise fail(f"Expected {what}. Received: {_type_name(value)}", self.file, pointer)

    def obj(self, parent: dict[str, Any], key: str, pointer: str) -> dict[str, Any]:
        value = parent.get(key)
        self.expect(isinstance(value, dict), f"{key!r} to be an object", value, f"{pointer}/{key}")
        return value  # type: ignore[no-any-return]

    def text(self, parent: dict[str, Any], key: str, pointer: str) -> str:
        value = parent.get(key)
        self.expect(isinstance(value, str) and value != "", f"{key!r} to be a non-empty string", value, f"{pointer}/{key}")
        return value  # type: ignore[no-any-return]

    def tick(self, pointer: str) -> None:
        self.count += 1
        if self.count > self.max_layers:
            raise too_large(
                f"The model config ({self.count} layers and calls so far)",
                self.count,
                "max_layers",
                self.max_layers,
                file=self.file,
                pointer=pointer,
            )

    def model(self, config: Any, pointer: str) -> None:
        self.expect(isinstance(config, dict), "a model config object with class_name and config", config, pointer)
        class_name = self.text(config, "class_name", pointer)
        inner = config.get("config")
        if class_name == "Sequential" and isinstance(inner, list):  # Keras <= 2.2 stored the layer list directly
            self.layer_list(inner, f"{pointer}/config", functional=False)
            return
        inner = self.obj(config, "config", pointer)
        if class_name not in MODEL_CLASSES:
            return  # the topology builder names the unsupported class
        names = self.layer_list(inner.get("layers"), f"{pointer}/config/layers", functional=class_name != "Sequential")
        if class_name == "Sequential":
            self.shape(inner, "build_input_shape", f"{pointer}/config")
        else:
            for key in ("input_layers", "output_layers"):
                for ref, where in self.refs(inner.get(key), f"{pointer}/config/{key}"):
                    if ref[0] not in names:
                        raise fail(f"Expected {key} to name a layer of the model. Received: {ref[0]!r}", self.file, where)

    def layer_list(self, layers: Any, pointer: str, *, functional: bool) -> set[str]:
        self.expect(isinstance(layers, list), "the model's layers to be an array", layers, pointer)
        seen: set[str] = set()
        for index, layer in enumerate(layers):
            where = f"{pointer}/{index}"
            self.tick(where)
            self.layer(layer, where)
            config = layer.get("config")
            name = config.get("name") if isinstance(config, dict) else None
            name = layer.get("name") if functional and name is None else name
            self.expect(isinstance(name, str) and name != "", "the layer to have a non-empty string name", name, f"{where}/config/name")
            if name in seen:
                raise fail(f"Expected unique layer names. Received: {name!r} twice", self.file, f"{where}/config/name")
            seen.add(name)
            if functional:
                self.calls(layer.get("inbound_nodes", []), f"{where}/inbound_nodes")
        return seen

    def layer(self, layer: Any, pointer: str) -> None:
        self.expect(isinstance(layer, dict), "a layer object with class_name and config", layer, pointer)
        class_name = self.text(layer, "class_name", pointer)
        for key in ("module", "registered_name"):
            value = layer.get(key)
            self.expect(value is None or isinstance(value, str), f"{key!r} to be a string", value, f"{pointer}/{key}")
        if class_name in MODEL_CLASSES:
            self.model(layer, pointer)
            return
        config = self.obj(layer, "config", pointer)
        self.layer_config(config, class_name, f"{pointer}/config")
        if class_name == "Pipeline":
            self.pipeline(config, f"{pointer}/config")

    def pipeline(self, config: dict[str, Any], pointer: str) -> None:
        """A Pipeline's layers: an array of named layers (each counted), Pipelines nested at most MAX_DEPTH deep."""
        from kif.keras.pipeline_expand import MAX_DEPTH

        layers = config.get("layers")
        self.expect(isinstance(layers, list), "a Pipeline's 'layers' to be an array", layers, f"{pointer}/layers")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise fail(f"Expected Pipelines nested at most {MAX_DEPTH} deep. Received: a deeper one", self.file, pointer)
        self.layer_list(config.get("layers"), f"{pointer}/layers", functional=False)
        self.depth -= 1

    def shape(self, config: dict[str, Any], key: str, pointer: str) -> None:
        shape = config.get(key)
        if shape is not None:
            ok = isinstance(shape, list) and all(d is None or (type(d) is int and d >= 0) for d in shape)
            self.expect(ok, f"{key!r} to be an array of non-negative integers or null", shape, f"{pointer}/{key}")

    def layer_config(self, config: dict[str, Any], class_name: str, pointer: str) -> None:
        for key in _SHAPE_KEYS if class_name == "InputLayer" else _SHAPE_KEYS[:3]:
            self.shape(config, key, pointer)
        dtype = config.get("dtype")
        if isinstance(dtype, dict):
            policy = dtype.get("config", {})
            self.expect(isinstance(policy, dict), "a dtype policy's config to be an object", policy, f"{pointer}/dtype/config")
            name = policy.get("name", "float32")
            self.expect(isinstance(name, str), "a dtype policy's name to be a string", name, f"{pointer}/dtype/config/name")
        else:
            self.expect(dtype is None or isinstance(dtype, str), "'dtype' to be a string or a dtype policy", dtype, f"{pointer}/dtype")
        for key in ("layer", "backward_layer", "cell"):  # wrapped layers: Bidirectional, TimeDistributed, RNN cells
            inner = config.get(key)
            if inner is not None and (key != "cell" or isinstance(inner, dict)):
                self.layer(inner, f"{pointer}/{key}")

    def calls(self, nodes: Any, pointer: str) -> None:
        self.expect(isinstance(nodes, list), "'inbound_nodes' to be an array", nodes, pointer)
        for index, node in enumerate(nodes):
            where = f"{pointer}/{index}"
            self.tick(where)
            if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
                args, kwargs = node.get("args", []), node.get("kwargs", {})
                self.expect(isinstance(args, list), "a call's 'args' to be an array", args, f"{where}/args")
                self.expect(isinstance(kwargs, dict), "a call's 'kwargs' to be an object", kwargs, f"{where}/kwargs")
                self.tensors(node, where)
                continue
            self.expect(isinstance(node, list), "a call node (an object or an array of inbound tensors)", node, where)
            single = is_legacy_entry(node)  # TFOpLambda keeps its input structure: one tensor is the entry itself
            for position, entry in enumerate([node] if single else node):  # Keras 2: [[layer, node, tensor, {kwargs}], ...]
                at = where if single else f"{where}/{position}"
                constant = isinstance(entry, list) and len(entry) in (3, 4) and entry[:2] == [CONSTANT_VALUE, -1]
                if not constant:  # [_CONSTANT_VALUE, -1, value, {kwargs}]: a constant first argument
                    self.history(entry, at, extra=True)
                if len(entry) > 3:
                    self.expect(isinstance(entry[3], dict), "an inbound tensor's call kwargs to be an object", entry[3], f"{at}/3")

    def tensors(self, value: Any, pointer: str) -> None:
        """Every Keras 3 tensor reference in a call: {"class_name": "__keras_tensor__", "config": {"keras_history": [...]}}."""
        stack = [(value, pointer)]
        while stack:
            item, where = stack.pop()
            if isinstance(item, dict):
                if item.get("class_name") == "__keras_tensor__":
                    config = self.obj(item, "config", where)
                    self.history(config.get("keras_history"), f"{where}/config/keras_history")
                    continue
                stack.extend((v, f"{where}/{_escape(str(k))}") for k, v in item.items())
            elif isinstance(item, list):
                stack.extend((v, f"{where}/{i}") for i, v in enumerate(item))

    def history(self, ref: Any, pointer: str, *, extra: bool = False) -> None:
        ok = (
            isinstance(ref, list)
            and (len(ref) >= 3 if extra else len(ref) == 3)
            and isinstance(ref[0], str)
            and all(type(v) is int and 0 <= v < 2**31 for v in ref[1:3])
        )
        self.expect(ok, "a tensor reference [layer name, call index, tensor index] of a string and two non-negative integers", ref, pointer)

    def refs(self, spec: Any, pointer: str) -> list[tuple[list[Any], str]]:
        """input_layers / output_layers: one [layer, node, tensor] triple or a non-empty array of them."""
        if isinstance(spec, list) and spec and isinstance(spec[0], str):
            self.history(spec, pointer)
            return [(spec, pointer)]
        self.expect(isinstance(spec, list) and bool(spec), "a non-empty array of tensor references", spec, pointer)
        found: list[tuple[list[Any], str]] = []
        for index, ref in enumerate(spec):
            if isinstance(ref, list) and ref and isinstance(ref[0], list) and pointer.count("/") < 8:
                found += self.refs(ref, f"{pointer}/{index}")  # Keras 3 nests a layer's structured outputs (RNN cell states)
            else:
                self.history(ref, f"{pointer}/{index}")
                found.append((ref, f"{pointer}/{index}"))
        return found


def check_model(config: Any, file: str | None) -> None:
    """Check the structure the topology builder reads; raise ConversionError at the first problem."""
    _Checker(file).model(config, "")
