"""One measurement of benchmarks/speed.py, in a fresh process: ``python _speed_child.py KIND ROOT`` prints
``{"seconds": ..., "cpu_seconds": ...}`` (wall and process CPU time of the same region). ``model_of`` is shared
with the parent, which writes the bundles the children read."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import time
from typing import Any


def arrays(root: str) -> dict[str, Any]:
    import numpy as np

    with open(os.path.join(root, "arrays.json")) as f:
        meta = json.load(f)
    return {n: np.full(s, i + 1, dtype="float32") for i, (n, s) in enumerate(meta.items())}


def model_of(weights: dict[str, Any]) -> Any:
    import kif

    b = kif.GraphBuilder("speed")
    names = sorted({n.split("/")[0] for n in weights})
    x = b.input("x", "float32", (None, weights[names[0] + "/kernel"].shape[0]))
    for n in names:
        x = b.add(
            "Dense",
            x,
            name=n,
            units=weights[n + "/kernel"].shape[1],
            weights={"kernel": weights[n + "/kernel"], "bias": weights[n + "/bias"]},
        )
    b.output(x)
    return b.build()


def fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


_CPU = [0.0]  # process CPU time (all threads) of the timed region: started by _start, the difference after _took


def _start() -> float:
    _CPU[0] = time.process_time()
    return time.perf_counter()


def _took(t: float) -> float:
    _CPU[0] = time.process_time() - _CPU[0]
    return time.perf_counter() - t


def measure(kind: str, root: str) -> float:
    if kind.startswith("import-"):  # the import statement alone, in a process that imported nothing else
        t = _start()
        importlib.import_module(kind.split("-", 1)[1])
        took = _took(t)
    elif kind in ("open-kif", "full-kif", "full-kif-bulk"):
        import kif
        import numpy

        t = _start()
        m = kif.load(os.path.join(root, "model.kif"))
        if kind == "full-kif-bulk":
            m.weights.verify()  # every tensor hashed in parallel (what kif.run does first)
        if kind != "open-kif":
            for name in m.weights:
                m.weights[name]
        took = _took(t)
    elif kind == "open-safetensors":
        import numpy  # noqa: F401
        from safetensors import safe_open

        t = _start()
        with safe_open(os.path.join(root, "model.safetensors"), "np") as f:
            list(f.keys())
        took = _took(t)
    elif kind == "read-floor":
        import numpy as np

        path = os.path.join(root, "raw.bin")
        t = _start()
        out = np.empty(os.path.getsize(path), dtype=np.uint8)
        with open(path, "rb", buffering=0) as f:
            f.readinto(out)
        took = _took(t)
    elif kind == "load-safetensors":
        from safetensors.numpy import load_file

        t = _start()
        load_file(os.path.join(root, "model.safetensors"))
        took = _took(t)
    elif kind == "load-torch":
        import torch

        t = _start()
        torch.load(os.path.join(root, "model.pt"))
        took = _took(t)
    elif kind.startswith("save-"):
        w = arrays(root)
        out = os.path.join(root, "out-" + kind)
        if kind == "save-floor":
            t = _start()
            with open(out, "wb") as f:
                for a in w.values():
                    f.write(memoryview(a).cast("B"))
                f.flush()
                os.fsync(f.fileno())
        elif kind in ("save-kif", "save-kif-dir"):
            import kif

            model = model_of(w)
            t = _start()
            kif.save(model, out + (".kif" if kind == "save-kif" else ""), progress=False)
        elif kind == "save-torch":
            import torch

            tensors = {n: torch.from_numpy(a) for n, a in w.items()}
            t = _start()
            torch.save(tensors, out)
            fsync(out)
        elif kind == "save-safetensors":
            from safetensors.numpy import save_file

            t = _start()
            save_file(w, out)
            fsync(out)
        took = _took(t)
        for leftover in (out, out + ".kif"):  # untimed: the next repeat writes a fresh file
            if os.path.isdir(leftover):
                shutil.rmtree(leftover)
            elif os.path.exists(leftover):
                os.unlink(leftover)
    elif kind in ("convert-kif", "convert-kif-h5py"):
        # convert-kif: h5py is imported inside convert (what a user of kif.keras pays); convert-kif-h5py: imported
        # before the timer, as the convert-h5py anchor does. The output is removed untimed (no overwrite in the timing).
        from kif.keras import convert

        if kind == "convert-kif-h5py":
            import h5py  # before the timer, as the anchor
        out = _fresh(os.path.join(root, "converted.kif"))
        t = _start()
        convert(os.path.join(root, "model.h5"), out, progress=False)
        took = _took(t)
    elif kind in ("convert-h5py", "convert-h5py-import"):
        import numpy as np

        if kind == "convert-h5py":
            import h5py
        t = _start()
        if kind == "convert-h5py-import":  # the h5py import timed too: the same footing as convert-kif
            import h5py
        read: list[Any] = []

        def keep(name: str, obj: Any) -> None:  # returns None: a non-None result would stop visititems
            if isinstance(obj, h5py.Dataset):
                read.append(np.asarray(obj))

        with h5py.File(os.path.join(root, "model.h5"), "r") as h:
            h.visititems(keep)
        took = _took(t)
    elif kind in ("export-kif", "export-keras"):
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras

        model = keras.saving.load_model(os.path.join(root, "model.h5"), compile=False)
        out = _fresh(os.path.join(root, "exported.kif" if kind == "export-kif" else "exported.keras"))
        t = _start()
        if kind == "export-kif":
            from kif.keras import export

            export(model, out)
        else:
            model.save(out)
        took = _took(t)
    return took


def _fresh(path: str) -> str:
    """``path`` with the previous repeat's output removed, before the timer: replacing a file is not the operation
    measured (on this machine's ext4 with ``discard``, unlinking 100 MB inside a rename costs ~0.2 s)."""
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.unlink(path)
    return path


def _timing_fsync() -> list[float]:
    """Wrap os.fsync to add up the time spent in it (the durability cost inside a save, reported separately)."""
    spent = [0.0]
    real = os.fsync

    def timed(fd: Any) -> None:
        t = time.perf_counter()
        try:
            real(fd)
        finally:
            spent[0] += time.perf_counter() - t

    os.fsync = timed
    return spent


if __name__ == "__main__":
    fsync_spent = _timing_fsync()
    seconds = measure(sys.argv[1], sys.argv[2])
    print(json.dumps({"seconds": seconds, "cpu_seconds": _CPU[0], "fsync_seconds": fsync_spent[0]}))
