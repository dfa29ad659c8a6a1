"""Raw-string cases for Hashing, StringLookup, HashedCrossing and TextVectorization, with TensorFlow's outputs.

``python conformance/generators/preprocessing_text_raw.py [OUT_ROOT]`` rewrites ``cases/preprocessing_text_raw/``.

Unlike ``preprocessing_text.py`` (strings made inside the graph by an inverted StringLookup), these cases feed and
expect ``string`` tensors themselves, in ``inputs.json`` / ``expected.json`` (spec/conformance.md "String tensors").
Each is one layer of ``python-sdk/tests/fixtures/text/cases.json`` (written by Keras 3 on TensorFlow 2.21 by its
``generate.py``, run by hand): TF's input and output are the case's, the layer's Keras config goes through the
Keras converter's mapping table, and the reference runtime MUST reproduce TF exactly before anything is written.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import _suite as s
import kif
import numpy as np
from kif.keras.mapping import Context, map_node
from kif.keras.topology import Node
from kif.keras.weights import LayerWeights
from safetensors.numpy import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runner"))
import kif_strings  # the suite's own reader and writer of string-tensor files

FIXTURES = Path(__file__).resolve().parents[2] / "python-sdk" / "tests" / "fixtures" / "text"
GROUP = "preprocessing_text_raw"


class Raw(NamedTuple):
    id: str
    fixture: str  # the key in cases.json
    description: str
    level: str = "core"


CASES = [
    Raw("raw-hashing-farmhash", "h_fast", "Hashing of raw strings, FarmHash64 into 7 bins"),
    Raw("raw-hashing-farmhash-mask", "h_mask", "Hashing of raw strings with the empty string as mask"),
    Raw("raw-hashing-siphash-salt-pair", "h_salt", "Hashing of raw strings, SipHash with a two-key salt"),
    Raw("raw-hashing-siphash-salt-int", "h_salt_int", "Hashing of raw strings, SipHash with an integer salt", "extended"),
    Raw("raw-hashing-one-hot", "h_one_hot", "Hashing of a 1-D string batch to one_hot", "extended"),
    Raw("raw-hashing-multi-hot", "h_multi_hot", "Hashing of raw strings to multi_hot"),
    Raw("raw-hashing-count", "h_count", "Hashing of raw strings to count", "extended"),
    Raw("raw-string-lookup-int", "sl_int", "StringLookup of raw strings to ids with an OOV bucket"),
    Raw("raw-string-lookup-mask", "sl_mask", "StringLookup of raw strings with a mask token"),
    Raw("raw-string-lookup-oov-salt", "sl_oov3_salt", "StringLookup of raw strings, 3 salted OOV buckets", "extended"),
    Raw("raw-string-lookup-one-hot", "sl_one_hot", "StringLookup of a 1-D string batch to one_hot", "extended"),
    Raw("raw-string-lookup-multi-hot", "sl_multi_hot", "StringLookup of raw strings to multi_hot"),
    Raw("raw-string-lookup-count", "sl_count", "StringLookup of raw strings to count", "extended"),
    Raw("raw-string-lookup-tf-idf", "sl_tf_idf", "StringLookup of raw strings to tf_idf"),
    Raw("raw-string-lookup-invert", "sl_invert", "StringLookup invert: ids to string outputs"),
    Raw("raw-string-lookup-invert-mask", "sl_invert_mask", "StringLookup invert with a mask token to string outputs"),
    Raw("raw-hashed-crossing-strings", "hc_strings", "HashedCrossing of two raw string features"),
    Raw("raw-hashed-crossing-string-int-one-hot", "hc_one_hot", "HashedCrossing of a string and an int feature to one_hot"),
    Raw("raw-text-vectorization-int", "tv_lower_and_strip_punctuation_whitespace", "TextVectorization of raw text to ids"),
    Raw("raw-text-vectorization-lower-characters", "tv_lower_character", "TextVectorization lower, character split"),
    Raw("raw-text-vectorization-strip-punctuation", "tv_strip_punctuation_whitespace", "TextVectorization strip_punctuation"),
    Raw("raw-text-vectorization-no-standardize", "tv_None_whitespace", "TextVectorization without standardize", "extended"),
    Raw("raw-text-vectorization-no-split", "tv_None_None", "TextVectorization without standardize or split", "extended"),
    Raw("raw-text-vectorization-pad-truncate", "tv_int_ragged_pad", "TextVectorization ids padded and truncated to 3"),
    Raw("raw-text-vectorization-ngrams", "tv_ngrams_13", "TextVectorization ids of 1- to 3-grams"),
    Raw("raw-text-vectorization-multi-hot", "tv_multi_hot", "TextVectorization of raw text to multi_hot"),
    Raw("raw-text-vectorization-count-bigrams", "tv_count_ngrams", "TextVectorization count of bigrams", "extended"),
    Raw("raw-text-vectorization-tf-idf", "tv_tf_idf", "TextVectorization of raw text to tf_idf"),
    Raw("raw-text-vectorization-given-idf", "tv_given_idf", "TextVectorization tf_idf with given vocabulary and idf", "extended"),
]


def _fixture_inputs(entry: dict[str, Any], arrays: Any) -> list[np.ndarray]:
    keys = entry["input"] if isinstance(entry["input"], list) else [entry["input"]]
    return [arrays[k] for k in keys]


def _mapped(entry: dict[str, Any], arrays: Any) -> Any:
    """The KIF layer the Keras converter makes of the fixture's Keras config (and its TF weights)."""
    config = dict(entry["config"])
    if "vocabulary" in entry:  # get_vocabulary() with the reserved tokens, as a saved config holds it
        config["vocabulary"] = entry["vocabulary"]
    items = [(f"vars/{role}", arrays[key]) for role, key in entry.get("weights", {}).items()]
    n_in = len(entry["input"]) if isinstance(entry["input"], list) else 1
    node = Node("layer", "layer", entry["class"], config, (), [f"x{i}" for i in range(n_in)], outputs=["y"], save_path=("layer",))
    ctx = Context(node, 3, lambda: LayerWeights("layer", items), asset=lambda member: None)
    return map_node(ctx)[0]


def _as_case_array(value: np.ndarray) -> np.ndarray:
    return np.array(value.tolist(), dtype=object).reshape(value.shape) if value.dtype.kind in "USO" else value


def _model(raw: Raw, entry: dict[str, Any], inputs: list[np.ndarray], arrays: Any) -> kif.Model:
    mapped = _mapped(entry, arrays)
    b = kif.GraphBuilder(raw.id.replace("-", "_"))
    names = ["text"] if len(inputs) == 1 else [f"feature{i}" for i in range(len(inputs))]
    ins = []
    for name, value in zip(names, inputs, strict=True):
        dtype = "string" if value.dtype.kind in "USO" else str(value.dtype)
        ins.append(b.input(name, dtype, (None, *value.shape[1:])))
    weights = {role: np.asarray(v, dtype=np.float32) for role, v in mapped.weights.items()}
    out = b.add(mapped.type, ins if len(ins) > 1 else ins[0], name=entry["class"].lower(), weights=weights, **mapped.attributes)
    b.output(out)
    return b.build()


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    if got.shape != want.shape:
        return False
    if want.dtype == object:
        return got.dtype == object and all(g == w for g, w in zip(got.reshape(-1), want.reshape(-1), strict=True))
    return got.dtype == want.dtype and np.array_equal(got, want)


def _split_save(tensors: dict[str, np.ndarray], folder: Path, stem: str) -> None:
    text = {k: v for k, v in tensors.items() if v.dtype == object}
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items() if k not in text}, str(folder / f"{stem}.safetensors"))
    if text:
        kif_strings.save_strings(text, folder / f"{stem}.json")


def write(group: str, raw: Raw, out: Path) -> None:
    doc = json.loads((FIXTURES / "cases.json").read_text(encoding="utf-8"))["cases"]
    arrays = np.load(FIXTURES / "cases.npz")
    entry = doc[raw.fixture]
    inputs = [_as_case_array(x) for x in _fixture_inputs(entry, arrays)]
    golden = _as_case_array(arrays[entry["output"]])
    model = _model(raw, entry, inputs, arrays)
    folder = out / raw.id
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "model.kif"
        kif.save(model, bundle)
        report = kif.validate(bundle)
        if not report.ok:
            raise s.CaseDisagrees(f"{raw.id}: bundle invalid: {[str(f) for f in report.errors]}")
        loaded = kif.load(bundle)
        feed = {spec.name: x for spec, x in zip(loaded.inputs, inputs, strict=True)}
        out_name = loaded.outputs[0].name
        want = golden if golden.dtype == object else golden.astype(np.dtype(loaded.outputs[0].dtype))
        got = np.asarray(kif.run(loaded, feed)[out_name])
        if not _same(got, want):
            raise s.CaseDisagrees(f"{raw.id}: the reference runtime disagrees with TensorFlow ({got.dtype}{list(got.shape)})")
        types = sorted({layer.type for layer in loaded.layers})
        version = loaded.kif_version
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copyfile(bundle, folder / "model.kif")
    _split_save(feed, folder, "inputs")
    _split_save({out_name: want}, folder, "expected")
    record = {
        "id": raw.id,
        "description": raw.description,
        "group": group,
        "level": raw.level,
        "spec_version": version,
        "spec_sections": [*dict.fromkeys(s.catalog.get(t).spec_page for t in types), "spec/conformance.md#string-tensors"],
        "layer_types": types,
        "oracle": "tensorflow",
        "tolerance": {"dtype": "float32", **s.tolerance_for(types, "float32")},
        "inputs": list(feed),
        "outputs": [out_name],
    }
    (folder / "case.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    s.main(GROUP, lambda: CASES, writer=write)
