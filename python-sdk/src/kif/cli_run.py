"""``kif run``: read inputs from .npz / .npy / .safetensors / .json, run, write outputs.

Everything cheap is checked before the bundle's checksums are read: the output suffix and
folder, the model path's format, and the inputs file. An input whose dtype would lose
information when cast to the declared one (float64 → float32, int64 → int32) is refused
unless ``--cast`` asks for the cast, which is then reported on stderr (JSON numbers have no dtype: they are cast
silently). String inputs come from ``U``/``S``/``O`` arrays or JSON strings; string outputs are written as ``U``
arrays (.npz/.npy; safetensors cannot hold text).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kif.errors import KifError

if TYPE_CHECKING:
    from kif.graph import Model

OUTPUT_SUFFIXES = (".npz", ".npy", ".safetensors")


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if path.suffix not in (".npz", ".npy", ".safetensors", ".json"):
        raise KifError("Expected inputs as .npz, .npy, .safetensors or .json", code="run-inputs", file=str(path))
    if not path.is_file():
        raise KifError("The inputs file does not exist", code="run-inputs", file=str(path))
    try:
        return _read(path)
    except KifError:
        raise  # npz_io's errors already name the file, the member and the limit
    except OSError as exc:
        raise KifError(f"Could not read the inputs: {exc.strerror or exc}", code="run-inputs", file=str(path)) from None
    except Exception as exc:  # each reader has its own error types for a damaged file (BadZipFile, SafetensorError, ...)
        raise KifError(f"Could not read the inputs: {exc}", code="run-inputs", file=str(path)) from None


def _read(path: Path) -> dict[str, np.ndarray]:
    from kif import npz_io  # streams members with size checks: np.load inflates a deflate bomb first

    if path.suffix == ".npz":
        return npz_io.load_npz(path)
    if path.suffix == ".json":
        from kif.strings import load_json

        return load_json(path)
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        return dict(load_file(str(path)))
    return {"": npz_io.load_npy(path)}


def _check_output(target: Path) -> None:
    if target.suffix not in OUTPUT_SUFFIXES:
        raise KifError(f"Expected --output to end in {', '.join(OUTPUT_SUFFIXES)}. Received: {target.name}", code="usage", file=str(target))
    if not target.parent.is_dir():
        raise KifError("The output folder does not exist", code="usage", file=str(target.parent))


def _cast_inputs(model: Model, arrays: dict[str, np.ndarray], cast: bool, *, json_numbers: bool = False) -> dict[str, np.ndarray]:
    """Widening casts are exact and done silently; a narrowing one needs ``--cast`` and is reported."""
    from kif.dtypes import by_name

    out = dict(arrays)
    for spec in model.inputs:
        array = out.get(spec.name)
        if array is None or spec.dtype == "string" or array.dtype.kind in "USO":
            continue  # the runtime names missing inputs and checks strings
        if json_numbers:
            out[spec.name] = array.astype(by_name(spec.dtype).numpy)
            continue
        target = by_name(spec.dtype).numpy
        if array.dtype == target or np.can_cast(array.dtype, target, casting="safe"):
            continue
        if not cast:
            raise KifError(
                f"Input {spec.name!r} is {array.dtype}; the model expects {spec.dtype}, and the cast may lose information: "
                f"save the inputs as {spec.dtype}, or pass --cast to cast them",
                code="run-inputs",
                pointer=spec.name,
            )
        print(f"kif run: note: input {spec.name!r} cast from {array.dtype} to {spec.dtype} (--cast)", file=sys.stderr)
        out[spec.name] = array.astype(target)
    return out


def _check_npy(target: Path, model: Model) -> None:
    if target.suffix == ".npy" and len(model.outputs) != 1:
        names = ", ".join(s.name for s in model.outputs)
        raise KifError(
            f"The model has {len(model.outputs)} outputs ({names}); a .npy file holds one array: write .npz or .safetensors",
            code="usage",
            file=str(target),
        )


def _write(target: Path, outputs: dict[str, np.ndarray], *, force: bool, sources: list[str]) -> None:
    from kif.safe_write import atomic_file
    from kif.strings import for_saving

    text = [name for name, value in outputs.items() if value.dtype == object]
    if text and target.suffix == ".safetensors":
        raise KifError(f"Outputs {text} are strings, which safetensors cannot hold: write .npz or .npy", code="usage", file=str(target))
    outputs = {name: for_saving(value) for name, value in outputs.items()}
    with atomic_file(target, overwrite=force, sources=sources) as tmp:
        if target.suffix == ".safetensors":
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in outputs.items()}, str(tmp))
        else:
            with open(tmp, "wb") as stream:
                if target.suffix == ".npy":
                    np.save(stream, next(iter(outputs.values())), allow_pickle=False)
                else:
                    np.savez(stream, **outputs)  # type: ignore[arg-type]


def run_command(args: argparse.Namespace) -> int:
    import kif
    from kif.cli_input import check_bundle_input
    from kif.engines import check as check_engine
    from kif.safe_write import check_target

    engine, threads = getattr(args, "engine", "reference"), getattr(args, "threads", 1)
    check_engine(engine, threads)  # an unknown engine or a missing library costs nothing either
    target = Path(args.output)
    force = bool(getattr(args, "force", False))
    sources = [args.model, args.inputs]
    _check_output(target)
    check_target(target, overwrite=force, sources=sources)  # before any work: a refused output costs nothing
    check_bundle_input(args.model, "run")
    arrays = _read_arrays(Path(args.inputs))  # before the checksum pass over the weights
    model = kif.load(args.model)
    names = [s.name for s in model.inputs]
    if len(arrays) == 1 and len(names) == 1:
        arrays = {names[0]: next(iter(arrays.values()))}
    _check_npy(target, model)
    arrays = _cast_inputs(model, arrays, args.cast, json_numbers=Path(args.inputs).suffix == ".json")
    outputs = kif.run(model, arrays, engine=engine, threads=threads)
    _write(target, outputs, force=force, sources=sources)
    for name, value in outputs.items():
        print(f"{name}: {value.dtype} {list(value.shape)}")
    return 0
