"""``kif run``: read inputs from .npz / .safetensors, run, write outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from kif.errors import KifError


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if path.suffix not in (".npz", ".npy", ".safetensors"):
        raise KifError("Expected inputs as .npz, .npy or .safetensors", code="run-inputs", file=str(path))
    try:
        return _read(path)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise  # missing or unreadable file: the CLI reports it as unreadable input
    except Exception as exc:  # each reader has its own error types for a damaged file (BadZipFile, SafetensorError, ...)
        raise KifError(f"Could not read the inputs: {exc}", code="run-inputs", file=str(path)) from None


def _read(path: Path) -> dict[str, np.ndarray]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        return dict(load_file(str(path)))
    return {"": np.load(path, allow_pickle=False)}


def run_command(args: argparse.Namespace) -> int:
    import kif
    from kif.bundle.atomic import atomic_file

    model = kif.load(args.model)
    arrays = _read_arrays(Path(args.inputs))
    names = [s.name for s in model.inputs]
    if len(arrays) == 1 and len(names) == 1:
        arrays = {names[0]: next(iter(arrays.values()))}
    outputs = kif.run(model, arrays)
    target = Path(args.output)
    with atomic_file(target) as tmp:
        if target.suffix == ".safetensors":
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in outputs.items()}, str(tmp))
        else:
            with open(tmp, "wb") as stream:
                np.savez(stream, **outputs)
    for name, value in outputs.items():
        print(f"{name}: {value.dtype} {list(value.shape)}")
    return 0
