"""Converting a large legacy Keras .h5 to KIF, against reading the same file with h5py alone.

    python benchmarks/convert.py                 # ~500 MB of float32 weights
    python benchmarks/convert.py --size-mb 50    # quicker
    python benchmarks/convert.py --savedmodel DIR   # also a TF-written SavedModel (hand-run: needs TensorFlow to make)

The .h5 is written by Keras 3 (torch backend) itself. Each measurement runs in a fresh
subprocess, so its peak RSS (VmHWM) is its own: `kif convert` streams one tensor at a
time, so its peak memory should stay near the largest tensor, not the model size, while h5py
alone (reading every dataset into memory, as a converter that loads the model would) holds all
of it. A third row writes what h5py read with ``safetensors.numpy.save_file``: the same work as a
conversion (read + write) without KIF's graph mapping, hashing and validation. All read the
same file; the page cache is warm after the first run (the median of the repeats is reported;
the first run is listed too).

A SavedModel of the same architecture and size is converted too. TensorFlow is not available here, so
benchmarks/savedmodel_writer.py writes it in tf_keras's on-disk format (metadata, SSTable index, one
data shard, object graph); ``--savedmodel DIR`` adds a row for a directory TensorFlow wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, sys, time
kind, src, dst = sys.argv[1:4]
start = time.perf_counter()
if kind == "kif":
    from kif.keras import convert
    convert(src, dst, progress=False)
else:
    import h5py, numpy as np
    arrays = {}
    with h5py.File(src, "r") as handle:
        def keep(name, obj):
            if hasattr(obj, "shape"):
                arrays[name] = np.asarray(obj)
        handle["model_weights"].visititems(keep)
    if kind == "h5py+safetensors":
        from safetensors.numpy import save_file
        save_file(arrays, dst)
elapsed = time.perf_counter() - start
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork+exec, so a child would report its parent's peak.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": elapsed, "peak_rss_mb": peak_kb / 1024}))
"""


def build_model(path: Path, size_mb: int) -> int:
    """A Keras MLP whose float32 weights total about size_mb; returns the largest tensor's bytes."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    width = 2048
    per_layer = width * width * 4
    layers = max(1, size_mb * 1024 * 1024 // per_layer)
    inputs = keras.Input((width,), name="features")
    x = inputs
    for i in range(layers):
        x = keras.layers.Dense(width, activation="relu", name=f"dense_{i}")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, name="head")(x))
    model.save(path)
    return per_layer


def measure(kind: str, src: Path, dst: Path) -> dict[str, float]:
    result = subprocess.run([sys.executable, "-c", _CHILD, kind, str(src), str(dst)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=500, help="approximate size of the weights (default 500)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the files (default: a temp dir)")
    parser.add_argument("--savedmodel", type=Path, default=None, help="also convert this SavedModel directory (written by TF)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        src = Path(tmp) / "model.h5"
        largest = build_model(src, args.size_mb)
        size_mb = src.stat().st_size / 2**20
        rows = {}
        from savedmodel_writer import write_saved_model

        saved = Path(tmp) / "saved_model"
        write_saved_model(saved, 2048, max(1, args.size_mb * 1024 * 1024 // largest))
        sources = {"h5py": src, "h5py+safetensors": src, "kif": src, "kif-savedmodel": saved}
        if args.savedmodel is not None:
            sources["kif-savedmodel-tf"] = args.savedmodel
        for kind, path in sources.items():
            runs = []
            for i in range(args.repeats):
                dst = Path(tmp) / f"out{i}.{'kif' if kind.startswith('kif') else 'safetensors'}"
                runs.append(measure(kind.split("-")[0], path, dst))
                if dst.exists():
                    dst.unlink()
            rows[kind] = runs
        print(f"source: {size_mb:.0f} MiB legacy .h5 written by Keras 3; largest tensor {largest / 2**20:.0f} MiB")
        print(f"{'case':<34}{'median s':>10}{'first s':>10}{'peak RSS MiB':>14}{'time ratio':>12}")
        base = statistics.median(r["seconds"] for r in rows["h5py"])
        names = {
            "h5py": "h5py: read every dataset",
            "h5py+safetensors": "h5py read + safetensors save_file",
            "kif": "kif convert .h5 -> .kif",
            "kif-savedmodel": "kif convert SavedModel -> .kif",
            "kif-savedmodel-tf": "kif convert TF's SavedModel",
        }
        for kind, runs in rows.items():
            median = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_rss_mb"] for r in runs)
            print(f"{names[kind]:<34}{median:>10.3f}{runs[0]['seconds']:>10.3f}{peak:>14.0f}{median / base:>12.2f}")


if __name__ == "__main__":
    main()
