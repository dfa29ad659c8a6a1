"""String tensors in the conformance suite (spec/conformance.md "String tensors"): the runner's bounded reader of
inputs.json / expected.json, exact comparison, the process protocol's INPUTS.json / OUTPUT.json, the suite lint, and
the raw-string cases against the TensorFlow fixtures they were made from."""

from __future__ import annotations

import json
import shutil
import stat
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kif.conformance import ReferenceBackend, check_strings, runner, suite_dir

SUITE = suite_dir()
GROUP = SUITE / "cases" / "preprocessing_text_raw"
FIXTURES = SUITE.parent / "python-sdk" / "tests" / "fixtures" / "text"
NODE_IMPORTER = SUITE / "importers" / "node" / "kif_importer.mjs"


def _strings() -> Any:
    return runner().strings


def _case(case_id: str) -> Any:
    (case,) = [c for c in runner().discover(SUITE, "extended", [case_id]) if c.id == case_id]
    return case


# ---------------------------------------------------------------- the reader and writer


def test_round_trip_keeps_every_code_point(tmp_path: Path) -> None:
    texts = {
        "a": np.array([["x\x00", "", "héllo"], ["日本語", "🙂", " trailing "]], dtype=object),
        "scalar": np.array("one", dtype=object),
        "empty": np.empty((2, 0), dtype=object),
    }
    path = tmp_path / "t.json"
    _strings().save_strings(texts, path)
    back = _strings().load_strings(path)
    assert set(back) == set(texts)
    for name, value in texts.items():
        assert back[name].dtype == object and back[name].shape == value.shape
        assert back[name].tolist() == value.tolist()  # "x\x00" keeps its NUL (a U array would drop it)
    assert json.loads(path.read_text(encoding="utf-8"))["a"]["shape"] == [2, 3]


HOSTILE = {
    "bom": b'\xef\xbb\xbf{"t": {"shape": [], "values": ["a"]}}',
    "not utf-8": b'{"t": {"shape": [], "values": ["\xff"]}}',
    "not json": b'{"t": ',
    "top-level array": b'[["a"]]',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep inside values": b'{"t": {"shape": [1], "values": [["a"]]}}',
    "duplicate tensor": b'{"t": {"shape": [], "values": ["a"]}, "t": {"shape": [], "values": ["b"]}}',
    "duplicate member": b'{"t": {"shape": [], "values": ["a"], "shape": []}}',
    "extra member": b'{"t": {"shape": [], "values": ["a"], "dtype": "string"}}',
    "missing values": b'{"t": {"shape": []}}',
    "float extent": b'{"t": {"shape": [1.0], "values": ["a"]}}',
    "negative extent": b'{"t": {"shape": [-1], "values": []}}',
    "bool extent": b'{"t": {"shape": [true], "values": ["a"]}}',
    "rank 9": b'{"t": {"shape": [1,1,1,1,1,1,1,1,1], "values": ["a"]}}',
    "count mismatch": b'{"t": {"shape": [2, 2], "values": ["a", "b", "c"]}}',
    "huge extents": b'{"t": {"shape": [4611686018427387904, 4611686018427387904], "values": ["a"]}}',
    "non-string element": b'{"t": {"shape": [2], "values": ["a", 1]}}',
    "lone surrogate": b'{"t": {"shape": [], "values": ["\\ud800"]}}',
    "NaN": b'{"t": {"shape": [NaN], "values": []}}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_one_value_error_naming_the_file(name: str, tmp_path: Path) -> None:
    path = tmp_path / "inputs.json"
    path.write_bytes(HOSTILE[name])
    with pytest.raises(ValueError, match="not a string-tensor file") as info:
        _strings().load_strings(path)
    assert str(path) in str(info.value)


def test_oversized_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "inputs.json"
    path.write_text('{"t": {"shape": [], "values": ["abcdef"]}}', encoding="utf-8")
    monkeypatch.setattr(_strings(), "MAX_FILE_BYTES", 16)
    with pytest.raises(ValueError, match="at most 16 are read"):
        _strings().load_strings(path)


# ---------------------------------------------------------------- comparison


def test_string_outputs_compare_exactly() -> None:
    compare = runner().compare_strings
    want = np.array(["é", "a b"], dtype=object)
    assert compare("y", np.array(["é", "a b"]), want)[:2] == (0.0, 0.0)  # a U array is a string tensor
    assert compare("y", np.array([b"\xc3\xa9", b"a b"], dtype=object), want)[0] == 0.0  # bytes read as UTF-8
    decomposed = np.array(["e\u0301", "a b"], dtype=object)  # no Unicode normalization
    ratio, _, problem = compare("y", decomposed, want)
    assert ratio == np.inf and "1 string element(s) differ; first at flat index 0" in problem
    assert "dtype int64, expected string" in compare("y", np.array([1, 2]), want)[2]
    assert "not a string tensor" in compare("y", np.array([b"\xff", b"x"], dtype=object), want)[2]


class _Replay:
    """A Python backend that checks how string inputs arrive and returns ``answer`` (default: the expected outputs)."""

    def __init__(self, case: Any, answer: dict[str, np.ndarray] | None = None) -> None:
        self.case, self.answer = case, answer
        self.seen: dict[str, np.ndarray] = {}

    def load(self, path: str) -> Any:
        def session(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            self.seen = dict(inputs)
            return self.answer if self.answer is not None else runner().load_case_tensors(self.case.folder, "expected")

        return session


def test_python_backend_receives_object_arrays_of_str_and_a_wrong_string_fails() -> None:
    case = _case("raw-string-lookup-invert-mask")
    ok = _Replay(case)
    assert runner().run_one(ok, case).status == "pass"
    case_in = _case("raw-hashing-farmhash")
    seen = _Replay(case_in)
    runner().run_one(seen, case_in)
    text = seen.seen["text"]
    assert text.dtype == object and all(type(v) is str for v in text.reshape(-1)) and "a\x00b" in text.reshape(-1)
    want = runner().load_case_tensors(case.folder, "expected")
    (name,) = want
    wrong = want[name].copy()
    wrong[0, 0] = wrong[0, 0] + " "
    result = runner().run_one(_Replay(case, {name: wrong}), case)
    assert result.status == "fail" and "string element(s) differ" in result.detail


def test_reference_backend_passes_every_raw_string_case() -> None:
    cases = runner().discover(SUITE, "extended", ["preprocessing_text_raw"])
    assert len(cases) >= 25
    results = runner().run_cases(ReferenceBackend(), cases, jobs=2)
    assert {r.case.id: r.status for r in results if r.status != "pass"} == {}
    with_text_out = [c for c in cases if (c.folder / "expected.json").is_file()]
    assert {c.id for c in with_text_out} == {"raw-string-lookup-invert", "raw-string-lookup-invert-mask"}


# ONNX has string tensors and LabelEncoder (StringLookup passes) but not TF's text steps; torch has no strings and
# Keras needs TensorFlow for its lookup layers.
@pytest.mark.parametrize(("backend", "invert"), [("torch", "not-supported"), ("onnx", "pass"), ("keras", "not-supported")])
def test_importers_without_strings_refuse_them(backend: str, invert: str) -> None:
    cases = runner().discover(SUITE, "extended", ["raw-string-lookup-invert", "raw-text-vectorization-int"])
    results = runner().run_cases(runner().resolve_backend(backend), cases, jobs=1)
    statuses = {r.case.id.rsplit("/", 1)[-1]: r.status for r in results}
    want = {"raw-string-lookup-invert": invert, "raw-string-lookup-invert-mask": invert, "raw-text-vectorization-int": "not-supported"}
    assert statuses == want, [r.detail for r in results]


# ---------------------------------------------------------------- the cases hold TensorFlow's values


def test_raw_cases_hold_the_tensorflow_fixture_values() -> None:
    """Independent of the generator: each case's inputs and expected outputs are the TF fixture's, value for value."""
    fixtures = json.loads((FIXTURES / "cases.json").read_text(encoding="utf-8"))["cases"]
    arrays = np.load(FIXTURES / "cases.npz")
    checked = 0
    for name, fixture in [("raw-string-lookup-invert", "sl_invert"), ("raw-hashing-siphash-salt-pair", "h_salt"),
                          ("raw-text-vectorization-tf-idf", "tv_tf_idf"), ("raw-hashed-crossing-strings", "hc_strings")]:  # fmt: skip
        case = _case(name)
        got_in = runner().load_case_tensors(case.folder, "inputs")
        keys = fixtures[fixture]["input"] if isinstance(fixtures[fixture]["input"], list) else [fixtures[fixture]["input"]]
        for spec_name, key in zip(case.spec["inputs"], keys, strict=True):
            assert np.asarray(got_in[spec_name]).tolist() == arrays[key].tolist()
        (out,) = runner().load_case_tensors(case.folder, "expected").values()
        want = arrays[fixtures[fixture]["output"]]
        assert out.shape == want.shape and np.asarray(out).tolist() == want.tolist()
        assert case.spec["oracle"] == "tensorflow"
        checked += 1
    assert checked == 4


# ---------------------------------------------------------------- process protocol

FAKE = """
import json, os, shutil, sys
from pathlib import Path

mode, action, bundle = sys.argv[1], sys.argv[2], Path(sys.argv[3])
assert os.environ.get("KIF_CONFORMANCE_PROTOCOL") == "2"
case = bundle.parent
inputs, output = Path(sys.argv[4]), Path(sys.argv[5])
feed = inputs.with_suffix(".json")
if (case / "inputs.json").is_file():
    assert json.loads(feed.read_text("utf-8")) == json.loads((case / "inputs.json").read_text("utf-8")), "INPUTS.json"
else:
    assert not feed.exists(), "INPUTS.json written for a case without string inputs"
shutil.copyfile(case / "expected.safetensors", output)
if (case / "expected.json").is_file():
    text = (case / "expected.json").read_text("utf-8")
    if mode == "garbage":
        text = '{"x": {"shape": [1], "values": []}}'
    if mode == "both":  # the string output's name also in OUTPUT.safetensors
        import numpy as np
        from safetensors.numpy import save_file
        save_file({next(iter(json.loads(text))): np.zeros(1, np.int64)}, str(output))
    output.with_suffix(".json").write_text(text, encoding="utf-8")
"""


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    script = tmp_path_factory.mktemp("fake") / "fake_importer"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(FAKE), encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.parametrize(
    ("mode", "status", "detail"),
    [("replay", "pass", ""), ("garbage", "error", "OUTPUT.json: not a string-tensor file"), ("both", "error", "in both OUTPUT")],
)
def test_process_importer_exchanges_string_tensors_as_json_files(fake: Path, mode: str, status: str, detail: str) -> None:
    cases = runner().discover(SUITE, "extended", ["raw-string-lookup-invert", "raw-hashing-farmhash", "dense-rank3"])
    backend = runner().resolve_backend(f"process:{fake} {mode}", 30.0)
    results = {r.case.id: r for r in runner().run_cases(backend, cases, jobs=1)}
    assert results["raw-string-lookup-invert"].status == status, results["raw-string-lookup-invert"].detail
    assert detail in results["raw-string-lookup-invert"].detail
    assert results["dense-rank3"].status == "pass"  # numeric cases: no .json either way
    assert results["raw-hashing-farmhash"].status == "pass"  # string input, numeric output


def test_node_importer_refuses_the_string_cases() -> None:
    node = shutil.which("node")
    assert node, "Node.js is required (installed by .ci/run)"
    cases = runner().discover(SUITE, "extended", ["preprocessing_text_raw"])
    results = runner().run_cases(runner().resolve_backend(f"process:{node} {NODE_IMPORTER}"), cases, jobs=2)
    assert {r.status for r in results} == {"not-supported"}, {r.case.id: r.detail for r in results if r.status != "not-supported"}


# ---------------------------------------------------------------- kif conformance check


def _copy_case(tmp_path: Path, case_id: str) -> tuple[Path, dict[str, Any]]:
    suite = tmp_path / "suite"
    (suite / "runner").mkdir(parents=True)
    shutil.copyfile(SUITE / "case.schema.json", suite / "case.schema.json")
    shutil.copyfile(SUITE / "runner" / "kif_strings.py", suite / "runner" / "kif_strings.py")
    folder = suite / "cases" / "preprocessing_text_raw" / case_id
    shutil.copytree(GROUP / case_id, folder)
    return folder, json.loads((folder / "case.json").read_text(encoding="utf-8"))


def test_check_accepts_the_committed_string_files(tmp_path: Path) -> None:
    folder, spec = _copy_case(tmp_path, "raw-string-lookup-invert")
    problems, text = check_strings.tensor_names(folder, spec, "c")
    assert problems == [] and text == set(spec["outputs"])


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: {k: {**v, "dtype": "string"} for k, v in d.items()}, "not a string-tensor file"),
        (lambda d: {**d, "extra": {"shape": [], "values": ["a"]}}, "do not hold exactly"),
        (lambda d: {}, "holds no tensor"),
    ],
)
def test_check_reports_a_broken_string_file(tmp_path: Path, edit: Any, problem: str) -> None:
    folder, spec = _copy_case(tmp_path, "raw-string-lookup-invert")
    path = folder / "expected.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")
    problems, _ = check_strings.tensor_names(folder, spec, "c")
    assert any(problem in p for p in problems), problems


def test_check_reports_a_string_tensor_in_the_wrong_file(tmp_path: Path) -> None:
    import kif

    folder, spec = _copy_case(tmp_path, "raw-hashing-farmhash")
    (folder / "inputs.json").unlink()  # the string input now in no file; and the dtype rule names where it belongs
    problems, text = check_strings.tensor_names(folder, spec, "c")
    assert any("do not hold exactly ['text']" in p for p in problems)
    assert check_strings.dtypes_agree(kif.load(folder / "model.kif"), text, "c") == [
        "c: 'text' has dtype string; its tensor belongs in a .json file"
    ]


# ---------------------------------------------------------------- the support matrix


def test_support_matrix_counts_the_string_cases_per_backend() -> None:
    from kif.conformance.matrix import load_scoreboards, render, string_case_ids

    ids = string_case_ids(SUITE)
    assert {p.name for p in GROUP.iterdir() if p.is_dir()} <= ids
    board = {"spec_version": "0.2.0", "suite_version": "0", "layer_types": {}, "cases": {
        "raw-hashing-farmhash": {"status": "pass", "worst": 0.0, "level": "core"},
        "raw-string-lookup-invert": {"status": "not-supported", "worst": None, "level": "core", "detail": "no strings"},
        "dense-rank3": {"status": "pass", "worst": 0.0, "level": "core"},
    }}  # fmt: skip
    page = render({**load_scoreboards(SUITE / "scoreboards"), "mine": board}, ids)
    section = page.split("## String tensors", 1)[1].split("\n## ", 1)[0]
    assert "| `mine` | 2 | 1 | 1 | 0 | 0 |" in section
    assert "## String tensors" not in render({"mine": board})
