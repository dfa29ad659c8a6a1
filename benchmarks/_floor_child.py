"""One measurement of benchmarks/write_floor.py in a fresh process: ``python _floor_child.py KIND ROOT`` prints
``{"seconds": ..., "cpu_seconds": ..., "fsync_seconds": ...}`` for the timed region (wall, process CPU of all
threads, time inside os.fsync). ROOT holds ``model.h5``; outputs are written beside it and removed first."""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _speed_child import _CPU as CPU  # the same timer as speed.py's children
from _speed_child import _fresh, _timing_fsync, _took
from _speed_child import _start as _timer_start

_CHUNK = 16 << 20


def _h5_views(path: str) -> list[Any]:
    """Each weight of the .h5 as a read-only array over a memory map of the file (kif.keras.h5direct's path)."""
    import h5py
    import numpy as np
    from kif.keras import h5direct

    views: list[Any] = []
    handle = h5py.File(path, "r")

    def keep(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            dtype = np.dtype(obj.dtype).newbyteorder("<")
            span = h5direct.byte_range(obj, dtype)
            if span is not None:
                views.append(h5direct.load(span, dtype, tuple(obj.shape), path, name).reshape(-1).view(np.uint8))

    handle.visititems(keep)
    views.append(handle)  # kept open until the process ends (the spans use its descriptor)
    return views[:-1]


def _live_views(model: Any) -> list[Any]:
    import numpy as np

    return [w.value.detach().numpy().reshape(-1).view(np.uint8) for w in model.weights]


def _write(views: list[Any], out: str, sync: bool) -> None:
    from kif.bundle.writeback import EarlyWriteback

    with open(out, "wb") as raw:
        stream = EarlyWriteback(raw) if sync else raw
        for view in views:
            for start in range(0, len(view), _CHUNK):
                stream.write(view[start : start + _CHUNK])
        if sync:
            raw.flush()
            os.fsync(raw.fileno())


def _sha(views: list[Any], threads: int) -> None:
    import hashlib

    if threads == 1:
        for view in views:
            hashlib.sha256(view).hexdigest()
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda v: hashlib.sha256(v).hexdigest(), views))


def _crc(views: list[Any]) -> None:
    from kif.bundle.crc import crc32

    value = 0
    for view in views:
        value = crc32(view, value)


def _floor(views: list[Any], out: str) -> None:
    """The data path with nothing else: SHA-256 of each tensor on two workers while this thread CRCs and writes
    each piece (early writeback), then one fsync."""
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    from kif.bundle.crc import crc32
    from kif.bundle.writeback import EarlyWriteback

    with ThreadPoolExecutor(2) as pool, open(out, "wb") as raw:
        digests = [pool.submit(lambda v: hashlib.sha256(v).hexdigest(), v) for v in views]
        stream, value = EarlyWriteback(raw), 0
        for view in views:
            for start in range(0, len(view), _CHUNK):
                piece = view[start : start + _CHUNK]
                value = crc32(piece, value)
                stream.write(piece)
        [d.result() for d in digests]
        raw.flush()
        os.fsync(raw.fileno())


def _new_modules(call: Any) -> list[str]:
    """The modules ``call()`` imports, in import order, found in a forked copy of this process (left untouched)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        before = set(sys.modules)
        try:
            call()
        finally:
            os.write(write, json.dumps([m for m in sys.modules if m not in before]).encode())
            os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 1 << 16):
        data += chunk
    os.waitpid(pid, 0)
    return list(json.loads(data))


def _model_and_doc(source: Any) -> tuple[Any, dict[str, Any], Any]:
    from kif.bundle import safetensors_io, writer

    model = writer_model = importlib.import_module("kif.keras.convert").keras_to_model(source)
    members = {"weights.safetensors": {t: writer_model.weights[t] for t in sorted(writer_model.weights)}}
    sizes = {n: safetensors_io.file_size(t) for n, t in members.items()}
    return model, writer._skeleton(model, members, sizes, "tensor"), writer


def measure(kind: str, root: str) -> float:
    h5 = os.path.join(root, "model.h5")
    out = _fresh(os.path.join(root, f"out-{kind}.kif"))
    convert_mod = importlib.import_module("kif.keras.convert")  # as speed.py: `from kif.keras import convert` untimed
    if kind.startswith("e-"):
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras

        model = keras.saving.load_model(h5, compile=False)
    else:
        import h5py
    if kind == "c-h5py":
        import h5py
        import numpy as np

        t = _start()
        read: list[Any] = []
        with h5py.File(h5, "r") as h:
            h.visititems(lambda n, o: read.append(np.asarray(o)) if isinstance(o, h5py.Dataset) else None)
        return _took(t)
    if kind == "c-kif":
        t = _start()
        convert_mod.convert(h5, out, progress=False)
        return _took(t)
    if kind == "e-keras":
        t = _start()
        model.save(out[: -len(".kif")] + ".keras")
        took = _took(t)
        os.unlink(out[: -len(".kif")] + ".keras")
        return took
    if kind == "e-kif":
        from kif.keras import export

        t = _start()
        export(model, out)
        return _took(t)
    if kind in ("c-imports", "e-imports"):
        if kind == "c-imports":
            names = _new_modules(lambda: convert_mod.convert(h5, out, progress=False))
        else:
            names = _new_modules(lambda: importlib.import_module("kif.keras.live").export(model, out))
        t = _start()
        for name in names:
            importlib.import_module(name)
        took = _took(t)
        print(f"{len(names)} modules: {' '.join(names)}", file=sys.stderr)
        return took
    if kind in ("c-scan", "c-open", "c-map", "c-check"):
        from kif.keras import h5heap, source

        if kind == "c-scan":
            with open(h5, "rb") as stream:
                t = _start()
                h5heap.check_global_heaps(stream, h5)
                return _took(t)
        t = _start()
        opened = source.open_source(h5)
        if kind == "c-open":
            return _took(t)
        return _map_or_check(kind, opened)
    if kind in ("e-map", "e-check"):
        from kif.keras import live, trace

        t = _start()
        opened = live.model_source(model)
        trace.derive(model, importlib.import_module("kif.keras.custom_defs").load(None), strict=True)
        if kind == "e-map":
            convert_mod.keras_to_model(opened)
            return _took(t)
        return _map_or_check(kind, opened)
    views = _h5_views(h5) if kind.startswith("c-") else _live_views(model)
    part = kind.split("-", 1)[1]
    t = _start()
    if part in ("write", "write-fsync"):
        _write(views, out, sync=part == "write-fsync")
    elif part in ("sha1", "sha2"):
        _sha(views, int(part[-1]))
    elif part == "crc":
        _crc(views)
    elif part == "floor":
        _floor(views, out)
    else:
        raise SystemExit(f"unknown kind {kind}")
    return _took(t)


def _map_or_check(kind: str, opened: Any) -> float:
    """``keras_to_model`` timed (``-map``), or ``check_document`` of its result timed (``-check``)."""
    from kif.bundle.precheck import check_document

    if kind.endswith("-map"):
        t = _start()
        importlib.import_module("kif.keras.convert").keras_to_model(opened)
        return _took(t)
    _, doc, _ = _model_and_doc(opened)
    t = _start()
    check_document(doc, "out.kif", None)
    return _took(t)


def prefault(mib: int) -> None:
    """Touch and free ``mib`` MiB before the timer: in a VM whose freed memory goes back to the host (free page
    reporting), the first use of a page costs a host fault; pages touched just before are reused without one."""
    if mib > 0:
        import numpy as np

        block = np.ones(mib << 20, dtype=np.uint8)
        del block


def _start() -> float:
    prefault(int(os.environ.get("KIF_BENCH_PREFAULT_MB", "0")))
    return _timer_start()


if __name__ == "__main__":
    spent = _timing_fsync()
    seconds = measure(sys.argv[1], sys.argv[2])
    print(json.dumps({"seconds": seconds, "cpu_seconds": CPU[0], "fsync_seconds": spent[0]}))
