"""What the CLI says when a command is given a file it does not read: the format it is, and the command that works.

Each check raises one ``KifError`` (code ``input-format``, or ``bundle-not-found`` for a missing
path), which the CLI prints as one line and exits 2 with: the input is unreadable by that command.
Kinds the checks do not recognise positively (a damaged ZIP, a directory without model.json, an
unknown file) pass through, so the bundle validator reports them with its own finding codes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from kif.errors import KifError
from kif.sniff import describe, sniff

CONVERTIBLE = {"keras-zip", "keras-h5", "keras-json"}
_KERAS = "re-save the model from Keras (model.save('model.keras')) and convert that"
_FOREIGN = (
    "kif convert reads Keras files (.keras, .h5, architecture JSON with --weights) and KIF bundles (to ONNX); "
    f"it does not read this format: {_KERAS}"
)
_CONVERT_ADVICE = {
    "kif-bundle": "it is already a KIF bundle: use kif validate, kif inspect or kif run on it (kif convert {src} out.onnx exports ONNX)",
    "kif-document": "pass the bundle that holds it (its directory) to kif validate or kif inspect",
    "keras-dir": "zip its files into a .keras archive, or " + _KERAS,
    "keras-weights-h5": "it has weights but no architecture: kif convert architecture.json {dst} --weights {src}",
    "savedmodel": "SavedModel support is coming: " + _KERAS,
    "savedmodel-pb": "a saved_model.pb alone has no weights: pass the SavedModel directory (with variables/), or " + _KERAS,
    "pytorch": _FOREIGN,
    "torchscript": _FOREIGN,
    "pickle": _FOREIGN,
    "onnx": "kif convert writes ONNX from a KIF bundle but does not read it: convert the original Keras model instead",
    "tflite": _FOREIGN,
    "safetensors": "it holds tensors without an architecture: convert the original Keras model instead",
    "npz": "it holds arrays, not a model (kif run takes arrays with --inputs)",
    "npy": "it holds an array, not a model (kif run takes arrays with --inputs)",
    "hdf5": "expected model.save() output (model_config attribute) or Keras weights; " + _KERAS,
    "json": "expected model.to_json() output, with class_name and config at the top",
    "empty": "the file has no content",
}
_BUNDLE_ADVICE = {
    "kif-document": "pass the bundle that holds it: its directory, {parent}",
    "keras-zip": "convert it first with kif convert {path} model.kif",
    "keras-dir": "zip its files into a .keras archive, then kif convert model.keras model.kif",
    "keras-h5": "convert it first with kif convert {path} model.kif",
    "keras-json": "convert it with its weights first: kif convert {path} model.kif --weights WEIGHTS.h5",
    "keras-weights-h5": "convert its architecture JSON with it first: kif convert architecture.json model.kif --weights {path}",
    "savedmodel": "convert it first with kif convert {path} model.kif",
    "npz": "arrays go to kif run --inputs",
    "npy": "arrays go to kif run --inputs",
}
_BUNDLE_DEFAULT = "KIF bundles come from kif convert (Keras files) or kif.save"


def savedmodel_supported() -> bool:
    """True once ``kif.keras.savedmodel`` says ``CONVERTS = True``: kif convert then passes SavedModels to ``kif.keras.convert``."""
    try:
        if importlib.util.find_spec("kif.keras.savedmodel") is None:
            return False
        return bool(getattr(importlib.import_module("kif.keras.savedmodel"), "CONVERTS", False))
    except (ImportError, ValueError):
        return False


def _refuse(message: str, path: str) -> KifError:
    return KifError(message, code="input-format", file=path)


def check_bundle_input(path: str | Path, command: str) -> None:
    """Refuse a path ``command`` (validate, inspect, run) cannot read as a bundle, naming what it is."""
    from kif.bundle.remote import is_url

    if is_url(path):
        return  # a URL is sniffed by the reader itself, through ranged reads
    kind = sniff(path)
    if kind == "missing":
        raise KifError("The path does not exist", code="bundle-not-found", file=str(path))
    if kind in ("kif-bundle", "zip", "directory", "unknown"):
        return  # a bundle, or something only the validator can say more about
    advice = _BUNDLE_ADVICE.get(kind, _BUNDLE_DEFAULT).format(path=path, parent=Path(path).parent)
    raise _refuse(f"{path} is {describe(kind)}, not a KIF bundle (what kif {command} reads): {advice}", str(path))


def convert_kind(src: str | Path, dst: str | Path, weights: str | Path | None) -> str:
    """The kind of ``src`` when ``kif convert`` can read it; otherwise raise naming the format and what to do."""
    kind = sniff(src)
    if kind == "missing":
        raise KifError("The source does not exist", code="convert-unreadable", file=str(src))
    to_onnx = str(dst).lower().endswith(".onnx")
    if to_onnx:
        if kind != "kif-bundle":
            raise _refuse(
                f"Expected a KIF bundle as the source of an ONNX export. Received: {src}, {describe(kind)}; "
                f"convert it to .kif first, then kif convert model.kif {dst}",
                str(src),
            )
        return kind
    in_place = kind == "savedmodel" or (kind == "savedmodel-pb" and Path(src).name == "saved_model.pb")
    if in_place and savedmodel_supported():
        return kind  # the SavedModel reader takes the directory or its saved_model.pb, with its own messages
    if kind in CONVERTIBLE or kind in ("zip", "unknown"):
        if weights is not None:
            _check_weights(Path(weights))
        return kind  # zip/unknown: the Keras reader says what it expected
    advice = _CONVERT_ADVICE.get(kind, _FOREIGN).format(src=src, dst=dst)
    raise _refuse(f"{src} is {describe(kind)}; {advice}", str(src))


def _check_weights(path: Path) -> None:
    kind = sniff(path)
    if kind == "missing":
        raise KifError("The weights file does not exist", code="convert-unreadable", file=str(path))
    if kind not in ("keras-weights-h5", "keras-h5", "hdf5"):
        raise _refuse(f"{path} is {describe(kind)}; --weights expects a Keras HDF5 weights file (.weights.h5 or .h5)", str(path))
