"""Weights written from the mapped bytes of an HDF5 file (kif.keras.h5direct); h5py's own read is the oracle.

A contiguous, unfiltered dataset of a standard little-endian type is mapped and written without a copy; every
other storage is read by h5py. Either way the bundle holds what h5py reads, and a file that shrinks after it was
opened is one kif error.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert, h5direct


def _datasets(handle: h5py.File) -> dict[str, h5py.Dataset]:
    found: dict[str, h5py.Dataset] = {}
    handle.visititems(lambda name, obj: found.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def test_direct_spans_match_h5py(tmp_path: Path) -> None:
    path = tmp_path / "kinds.h5"
    values = np.arange(24, dtype="<f4").reshape(4, 6) / 7
    with h5py.File(path, "w", userblock_size=512) as handle:  # the userblock shifts every address
        handle["plain"] = values
        handle["int64"] = np.arange(5, dtype="<i8") - 2
        handle["big_endian"] = values.astype(">f4")
        handle.create_dataset("chunked", data=values, chunks=(2, 3))
        handle.create_dataset("deflated", data=values, chunks=(4, 6), compression="gzip")
        handle.create_dataset("unallocated", shape=(3,), dtype="<f4")
        handle["half"] = values.astype("<f2")
        odd = h5py.h5t.IEEE_F32LE.copy()
        odd.set_ebias(100)  # read by h5py as float32, but its bytes are not float32's: HDF5 converts them
        space = h5py.h5s.create_simple((4, 6))
        h5py.Dataset(h5py.h5d.create(handle.id, b"odd_bias", odd, space))[...] = values
    with h5py.File(path, "r") as handle:
        sets = _datasets(handle)
        spans = {name: h5direct.byte_range(d, np.dtype(d.dtype).newbyteorder("<")) for name, d in sets.items()}
        assert {n for n, s in spans.items() if s is not None} == {"plain", "int64", "half"}
        for name in ("plain", "int64", "half"):
            d = sets[name]
            span = spans[name]
            assert span is not None
            got = h5direct.load(span, np.dtype(d.dtype), d.shape, str(path), name)
            np.testing.assert_array_equal(got, d[()])
            assert not got.flags.writeable, "a view of the mapped file, not a copy"
        np.testing.assert_allclose(sets["odd_bias"][()], values, rtol=1e-6)  # h5py converts it on read


def test_stream_opened_file_is_read_by_h5py(tmp_path: Path) -> None:
    path = tmp_path / "stream.h5"
    with h5py.File(path, "w") as handle:
        handle["w"] = np.ones((3, 3), dtype="<f4")
    with open(path, "rb") as stream, h5py.File(stream, "r") as handle:
        assert h5direct.byte_range(handle["w"], np.dtype("<f4")) is None  # offsets of a stream are not file offsets


def test_file_shrunk_after_open_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "shrinks.h5"
    with h5py.File(path, "w") as handle:
        handle["w"] = np.ones((64, 64), dtype="<f4")
    with h5py.File(path, "r") as handle:
        span = h5direct.byte_range(handle["w"], np.dtype("<f4"))
        assert span is not None
        os.truncate(path, span[1] + 8)
        with pytest.raises(KifError) as caught:
            h5direct.load(span, np.dtype("<f4"), (64, 64), str(path), "/w")
    assert caught.value.code == "convert-unreadable"
    assert "/w" in caught.value.message


def test_converted_weights_equal_h5py_reads(tmp_path: Path) -> None:
    inputs = keras.Input((6,), name="x")
    hidden = keras.layers.Dense(5, activation="relu", name="d0")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="d1")(hidden))
    source = tmp_path / "mlp.h5"
    model.save(source)
    bundle = convert(source, tmp_path / "mlp.kif", progress=False)
    converted = kif.load(bundle)
    with h5py.File(source, "r") as handle:
        sets = _datasets(handle)
        assert all(h5direct.byte_range(d, np.dtype("<f4")) is not None for d in sets.values()), "Keras writes contiguous datasets"
        by_leaf = {name.split("/")[-3] + "/" + name.split("/")[-1].split(":")[0]: d[()] for name, d in sets.items()}
    assert sorted(converted.weights) == sorted(by_leaf)
    for name in converted.weights:
        np.testing.assert_array_equal(np.asarray(converted.weights[name]), by_leaf[name])
    feeds = {"x": np.linspace(-1, 1, 12, dtype="float32").reshape(2, 6)}
    got = next(iter(kif.run(converted, feeds).values()))
    np.testing.assert_allclose(got, model.predict(feeds["x"], verbose=0), rtol=1e-5, atol=1e-6)


def test_a_mapped_weight_is_read_only(tmp_path: Path) -> None:
    """The map is read-only: the array refuses writes."""
    path = tmp_path / "plain.h5"
    values = np.arange(12, dtype="<f4").reshape(3, 4)
    with h5py.File(path, "w") as handle:
        handle["w"] = values
    with h5py.File(path, "r") as handle:
        span = h5direct.byte_range(handle["w"], np.dtype("<f4"))
        assert span is not None
        array = h5direct.load(span, np.dtype("<f4"), (3, 4), str(path), "w")
    assert not array.flags.writeable
    with pytest.raises(ValueError):
        array[0, 0] = 1.0
    np.testing.assert_array_equal(array, values)
