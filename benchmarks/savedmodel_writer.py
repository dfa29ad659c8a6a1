"""Write a tf.keras-style SavedModel of a Dense MLP without TensorFlow, for benchmarks/convert.py.

TensorFlow is no dependency of KIF or of its CI, so the benchmark cannot have TF write its ~500 MB model.
This writes the same files tf_keras 2.x writes for a functional MLP, byte-compatible in every part KIF
reads (checked by hand against tf_keras 2.21 output): ``keras_metadata.pb`` (root model config in the
tf_keras JSON form, one object per layer), ``variables/variables.index`` (an uncompressed SSTable of
BundleEntryProto records, masked CRC-32Cs), one ``variables.data-00000-of-00001`` shard written tensor by
tensor, the ``_CHECKPOINTABLE_OBJECT_GRAPH`` string tensor, and a minimal ``saved_model.pb`` (no traced
functions: TensorFlow could not serve it, which KIF never needs). To measure a real TF-written
SavedModel, pass ``--savedmodel DIR`` to convert.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from kif.keras.savedmodel.crc32c import crc32c, mask
from kif.keras.savedmodel.sstable import MAGIC

VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"


def _varint(value: int) -> bytes:
    out = b""
    while value >= 0x80:
        out += bytes([(value & 0x7F) | 0x80])
        value >>= 7
    return out + bytes([value])


def _len(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _dense(name: str, units: int, activation: str, source: str) -> dict:
    config = {"name": name, "trainable": True, "dtype": "float32", "units": units, "activation": activation, "use_bias": True,
              "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
              "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None, "bias_regularizer": None,
              "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}
    return {"class_name": "Dense", "config": config, "name": name, "inbound_nodes": [[[source, 0, 0, {}]]]}


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    out, previous = b"", b""
    for key, value in entries:
        shared = 0
        while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
            shared += 1
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value)) + key[shared:] + value
        previous = key
    return out + (0).to_bytes(4, "little") + (1).to_bytes(4, "little")


def _framed(body: bytes) -> bytes:
    return body + b"\x00" + mask(crc32c(body + b"\x00")).to_bytes(4, "little")


def _table(entries: list[tuple[bytes, bytes]]) -> bytes:
    data = _framed(_block(entries))
    meta = _framed(_block([]))
    index = _framed(_block([(entries[-1][0] + b"\x00", _varint(0) + _varint(len(data) - 5))]))
    handles = _varint(len(data)) + _varint(len(meta) - 5) + _varint(len(data) + len(meta)) + _varint(len(index) - 5)
    return data + meta + index + handles.ljust(40, b"\x00") + MAGIC.to_bytes(8, "little")


def _entry(shape: tuple[int, ...], offset: int, size: int, crc: int, dtype: int = 1) -> bytes:
    dims = b"".join(_len(2, _int(1, d)) for d in shape)
    return _int(1, dtype) + _len(2, dims) + _int(4, offset) + _int(5, size) + b"\x35" + mask(crc).to_bytes(4, "little")


def write_saved_model(target: Path, width: int, layers: int, seed: int = 0) -> None:
    """Write the SavedModel of Input(width) → layers x Dense(width, relu) → Dense(10), one tensor in memory at a time."""
    rng = np.random.default_rng(seed)
    (target / "variables").mkdir(parents=True)
    names = [f"dense_{i}" for i in range(layers)] + ["head"]
    config_layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, width], "dtype": "float32",
                      "sparse": False, "ragged": False, "name": "features"}, "name": "features", "inbound_nodes": []}]
    for i, name in enumerate(names):
        last = i == layers
        config_layers.append(_dense(name, 10 if last else width, "linear" if last else "relu", (["features", *names])[i]))
    model_config = {"class_name": "Functional", "config": {"name": "mlp", "trainable": True, "layers": config_layers,
                    "input_layers": [["features", 0, 0]], "output_layers": [["head", 0, 0]]}}
    root = {"name": "mlp", "class_name": "Functional", "config": model_config["config"], "keras_version": "2.21.0",
            "backend": "tensorflow", "model_config": model_config}
    objects = [("root", "_tf_keras_network", root), ("root.layer-0", "_tf_keras_input_layer", {"name": "features"})]
    objects += [(f"root.layer_with_weights-{i}", "_tf_keras_layer", {"name": n, "class_name": "Dense"}) for i, n in enumerate(names)]
    (target / "keras_metadata.pb").write_bytes(b"".join(
        _len(1, _int(2, i) + _len(3, path.encode()) + _len(4, ident.encode()) + _len(5, json.dumps(meta).encode()))
        for i, (path, ident, meta) in enumerate(objects)))
    (target / "saved_model.pb").write_bytes(_int(1, 1) + _len(2, _len(1, _len(4, b"serve") + _len(5, b"2.21.0"))))
    # object graph: 0 root; 1 input layer; per Dense layer a layer node, then its kernel and bias nodes
    graph_nodes: list[bytes] = [b"", b""]
    root_children = _len(1, _int(1, 1) + _len(2, b"layer-0"))
    entries: dict[bytes, bytes] = {}
    offset = 0
    with open(target / "variables" / "variables.data-00000-of-00001", "wb") as shard:
        for i, name in enumerate(names):
            layer_id = len(graph_nodes)
            graph_nodes.append(b"")
            children = b""
            for role, shape in (("kernel", (width, 10 if i == layers else width)), ("bias", (10 if i == layers else width,))):
                key = f"layer_with_weights-{i}/{role}{VALUE}"
                data = rng.normal(0, 0.02, shape).astype("<f4").tobytes()
                shard.write(data)
                entries[key.encode()] = _entry(shape, offset, len(data), crc32c(data))
                offset += len(data)
                children += _len(1, _int(1, len(graph_nodes)) + _len(2, role.encode()))
                attribute = _len(1, b"VARIABLE_VALUE") + _len(2, f"{name}/{role}".encode()) + _len(3, key.encode())
                graph_nodes.append(_len(2, attribute))
            graph_nodes[layer_id] = children
            root_children += _len(1, _int(1, layer_id) + _len(2, f"layer_with_weights-{i}".encode()))
            root_children += _len(1, _int(1, layer_id) + _len(2, f"layer-{i + 1}".encode()))
        graph_nodes[0] = root_children
        graph = b"".join(_len(1, node) for node in graph_nodes)
        length = len(graph).to_bytes(4, "little")
        lengths_crc = crc32c(length)
        blob = _varint(len(graph)) + mask(lengths_crc).to_bytes(4, "little") + graph
        crc = crc32c(graph, crc32c(mask(lengths_crc).to_bytes(4, "little"), lengths_crc))
        shard.write(blob)
        entries[b"_CHECKPOINTABLE_OBJECT_GRAPH"] = _entry((), offset, len(blob), crc, dtype=7)
    header = (b"", _int(1, 1) + _len(3, _int(1, 1)))
    (target / "variables" / "variables.index").write_bytes(_table([header, *sorted(entries.items())]))
