"""What a lazy open imports: ``kif.load`` with integrity on, in a fresh interpreter, loads none of the modules only a
tensor read, a writer, a failed check or another layer type needs. Each of them costs a fresh process milliseconds
(OpenSSL through hashlib about 5, jsonschema about 100), so this is the open's speed as a behaviour: no timing is
asserted (benchmarks/open.py measures it), the modules are inspected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kif
from kif import _lean

PROBE = """
import sys
import numpy, kif
before = set(sys.modules)
model = kif.load(sys.argv[1])
opened = sorted(set(sys.modules) - before)
value = float(model.weights["d1/kernel"].sum())  # the first read: its digest is checked now
after_read = sorted(set(sys.modules) - before)
import json
print(json.dumps({"opened": opened, "after_read": after_read, "value": value}))
"""
# Never on a valid open: OpenSSL (tensor digests import it on the first read), the validator libraries (the generated
# checks vouch for a valid document), ml_dtypes (bfloat16 only), thread pools, writer, runtime, progress bars, the
# json package (kif.strict_json calls its C scanner), mmap (the first read maps the file), rules of features not used.
NOT_ON_OPEN = {
    "_hashlib", "hashlib", "jsonschema", "jsonschema_rs", "referencing", "ml_dtypes", "concurrent.futures",
    "kif.bundle.writer", "kif.runtime", "kif.progress", "kif.layers.activations", "kif.validate.fast_schema",
    "json", "json.decoder", "mmap", "kif.composites", "kif.validate.rs_schema", "kif.validate.bool_values",
    "kif.bundle.safetensors_write",
}  # fmt: skip


def _bundle(tmp_path: Path, digests: str = "tensor") -> Path:
    b = kif.GraphBuilder("two")
    x = b.input("x", "float32", (None, 8))
    for name in ("d1", "d2"):
        x = b.add("Dense", x, name=name, units=8, weights={"kernel": np.full((8, 8), 0.5, "float32"), "bias": np.zeros(8, "float32")})
    b.output(x)
    return kif.save(b.build(), tmp_path / "m.kif", digests=digests)


def _probe(path: Path, probe: str = PROBE) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(kif.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_verified_lazy_open_imports_no_openssl_validator_or_unneeded_kernel(tmp_path: Path) -> None:
    found = _probe(_bundle(tmp_path))
    opened = set(found["opened"])  # type: ignore[arg-type]
    assert not opened & NOT_ON_OPEN, sorted(opened & NOT_ON_OPEN)
    kernels = {m for m in opened if m.startswith("kif.layers.") and not m.split(".")[2].startswith("_") and m != "kif.layers.registry"}
    assert kernels == {"kif.layers.dense"}, "only the shape rule of the one layer type used"
    assert found["value"] == 32.0
    assert "_hashlib" in found["after_read"], "the first tensor read hashes with OpenSSL"  # type: ignore[operator]


# What a plain virtual environment's fresh process has not imported before a program starts, though a site hook
# (this machine's default interpreter has one) may have: an open must not import them (~7 ms together there).
STDLIB_NOT_ON_OPEN = ("zipfile", "pathlib", "shutil", "threading", "urllib", "bz2", "lzma", "fnmatch", "importlib.util")
FORGET_PRELOADED = """
import sys
for name in [m for m in sys.modules if m in STDLIB or m.split(".")[0] in STDLIB]:
    del sys.modules[name]  # imported by a site hook, not by Python itself: re-imported if anything asks for it
"""


def test_an_open_imports_neither_zipfile_nor_pathlib(tmp_path: Path) -> None:
    """The archive's central directory is read by kif.bundle.zip_directory and paths stay strings on the open."""
    probe = f"STDLIB = {STDLIB_NOT_ON_OPEN!r}" + FORGET_PRELOADED + PROBE
    found = _probe(_bundle(tmp_path), probe)
    imported = {m.split(".")[0] for m in found["opened"]} | set(found["opened"])  # type: ignore[union-attr]
    assert not imported & set(STDLIB_NOT_ON_OPEN), sorted(imported & set(STDLIB_NOT_ON_OPEN))
    assert found["value"] == 32.0


def test_a_whole_file_digest_bundle_is_still_hashed_at_open(tmp_path: Path) -> None:
    found = _probe(_bundle(tmp_path, digests="file"))  # spec 0.1 digests: one pass over the file when opening
    assert "_hashlib" in found["opened"]  # type: ignore[operator]


@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 65537])
def test_the_builtin_sha256_and_hashlib_give_the_same_digest(size: int) -> None:
    import hashlib

    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert _lean.sha256_small(data) == _lean.sha256_large(data) == hashlib.sha256(data).hexdigest()
    assert _lean.sha256_small(memoryview(data)) == hashlib.sha256(data).hexdigest()


def test_without_the_builtin_module_headers_are_hashed_by_hashlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import hashlib

    monkeypatch.setattr(_lean, "_NAMES", ("_no_such_sha_module",))
    monkeypatch.setattr(_lean, "_looked", False)
    monkeypatch.setattr(_lean, "_builtin", None)
    assert _lean.sha256_small(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert _lean._builtin is None
    model = kif.load(_bundle(tmp_path))  # header digests checked through hashlib
    assert float(model.weights["d2/kernel"].sum()) == 32.0


def test_the_member_name_rule_without_a_regex_is_the_regex() -> None:
    import re

    from kif.bundle.container import safe_name

    rule = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")  # the rule of spec/container.md, as it was checked before
    rng = np.random.default_rng(0)
    alphabet = [*"aZ09_.-/\\ \n:é\x00", "model.json", ".."]
    names = ["", ".", "..", "model.json", "model.json\n", "-a", "_a", "a-b.c", "é", "a/b", "weights.safetensors"]
    names += ["".join(rng.choice(alphabet, size=int(rng.integers(1, 6)))) for _ in range(3000)]
    for name in names:
        assert safe_name(name) == bool(rule.fullmatch(name)), repr(name)


JSON_TEXTS = ["{}", ' {"a": [1, 2.5, -0.0, "x\\u0041", null, true]} \n', "", "  ", "\ufeff{}", '{"a":1}x', " [1] [2]",
              '{"a":1,"a":2}', "[NaN]", "[-Infinity]", "[1e999]", "[1,]", '{"a" 1}', "tru", "-", "[" * 50 + "]" * 50,
              "1" * 400, "12345678901234567890", '"\\ud83d\\ude00"']  # fmt: skip


@pytest.mark.parametrize("text", JSON_TEXTS, ids=range(len(JSON_TEXTS)))
def test_json_without_the_json_package_reads_and_fails_as_json_loads(text: str) -> None:
    from kif import strict_json

    def outcome(parse):  # type: ignore[no-untyped-def]
        try:
            return "ok", repr(parse())
        except ValueError as exc:
            return type(exc).__name__, str(exc)

    hooks = {"object_pairs_hook": strict_json._object, "parse_constant": strict_json._constant}
    hooks |= {"parse_float": strict_json._finite, "parse_int": strict_json._integer}
    assert outcome(lambda: strict_json.loads(text)) == outcome(lambda: json.loads(text, **hooks))
    assert outcome(lambda: strict_json.loads_plain(text)) == outcome(lambda: json.loads(text))


@pytest.mark.parametrize("pad", [0, 70_000], ids=["walked", "regex passes"])
def test_the_nesting_limit_holds_on_both_depth_paths(pad: int) -> None:
    from kif import strict_json

    def doc(depth: int) -> str:  # an object at depth 1 holding arrays nested to ``depth`` in all
        return '{"pad": "' + "x" * pad + '", "a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    assert (len(doc(64)) < strict_json._WALK_BELOW) == (pad == 0)
    assert strict_json.loads(doc(64), max_depth=64)["pad"] == "x" * pad
    with pytest.raises(ValueError, match="nesting deeper than 64 levels"):
        strict_json.loads(doc(65), max_depth=64)


def test_open_benchmark_prints_every_case_against_its_anchor() -> None:
    from tests._bench_smoke import run_benchmark, table

    stdout = run_benchmark("open.py", "--repeats", "1")
    header, rows = table(stdout, "case")
    assert header == ["case", "CPU ms", "wall ms", "CPU ratio", "wall ratio", "modules imported"]
    assert set(rows) == {"kif open (this tree)", "import kif + open (this tree)", "safetensors safe_open", "import safetensors + safe_open"}
    assert rows["safetensors safe_open"][3] == rows["import safetensors + safe_open"][3] == "1x"
    assert "_hashlib" not in stdout.split("modules the kif open imports (this tree):")[1]


@pytest.mark.parametrize("utf8", [False, True], ids=["cp437 name", "utf-8 flagged name"])
def test_an_unsafe_non_ascii_member_name_is_shown_as_zipfile_decodes_it(tmp_path: Path, utf8: bool) -> None:
    import zipfile

    from kif.bundle.container import open_container

    archive = tmp_path / "odd.kif"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("model.json", "{}")
        out.writestr("é-weights" if utf8 else "X-weights", b"")  # a non-ASCII name sets the UTF-8 flag itself
    if not utf8:  # the same name bytes, unflagged: a reader decodes them as cp437 (0x82 is "é" there, not in latin-1)
        archive.write_bytes(archive.read_bytes().replace(b"X-weights", b"\x82-weights"))
    found = [f for f in open_container(archive).findings if f.code == "archive-unsafe-path"]
    assert [f.message.split("Received: ")[1] for f in found] == ["name='é-weights'"]


def _schema_patterns() -> list[str]:
    """Every ``pattern`` of the schema files, in Python's syntax (kif.schemas.ecma_pattern)."""
    from kif import schemas

    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(schemas.ecma_pattern(node["pattern"]).pattern)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schemas.all_schemas())
    return sorted(found)


PATTERNS = _schema_patterns()


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_schema_pattern_is_matched_as_its_regex_matches(pattern: str) -> None:
    """The generated checks match patterns with schema_rt.Word / AnyOf (string methods) or Lazy (a regex compiled
    when first needed): the oracle is the pattern compiled by re."""
    import re

    from kif.schemas_patterns import matcher
    from kif.validate import schema_rt

    rule = re.compile(pattern)
    built = eval(repr(matcher(pattern)), {"_rt": schema_rt})  # the constant exactly as a generated module writes it
    rng = np.random.default_rng(len(pattern))
    alphabet = [*"aAzZ09_.-:/\\ \n\t$^é", "op.", ".safetensors", "0123456789abcdef" * 4, "x" * 60, "spec/ops/", ".md"]
    texts = ["", "a", "A", "0", "_", ".", "-", "a\n", "\na", "a.safetensors", ".safetensors", "a.safetensors\n", "f" * 64]
    texts += ["f" * 63, "Dense", "op.add", "op.", "op.Add", "vendor.x:Layer", "a:B", "0.2.0", "01.2.0"]
    texts += ["".join(rng.choice(alphabet, size=int(rng.integers(1, 8)))) for _ in range(4000)]
    for text in texts:
        assert bool(built.search(text)) == bool(rule.search(text)), (pattern, text)


def test_the_graph_checks_name_file_digest_and_type_patterns_use_no_regex() -> None:
    from kif.schemas_patterns import matcher

    kinds = {p: type(matcher(p)).__name__ for p in PATTERNS}
    assert kinds["^[0-9a-f]{64}\\Z"] == kinds["^[A-Za-z0-9_][A-Za-z0-9_.\\-]*\\.safetensors\\Z"] == "_Word"
    assert sum(kind != "_Pattern" for kind in kinds.values()) >= 6, kinds


def test_a_lazy_pattern_compiles_on_first_search_and_matches_as_re() -> None:
    import re

    from kif.validate.schema_rt import Lazy

    lazy = Lazy(r"^[a-z]+(\.[a-z]+)*:[A-Z]\w*\Z")
    assert lazy.compiled is None
    for text in ("a.b:C", "a:C", "a.:C", "a:C\n", "", "A:b"):
        assert bool(lazy.search(text)) == bool(re.search(lazy.pattern, text)), text
    assert lazy.compiled is not None


def test_graph_classes_behave_as_the_dataclasses_they_were() -> None:
    """The oracle: the same fields declared with a plain @dataclass (generated __init__, __repr__, __eq__)."""
    import dataclasses
    import inspect
    import pickle
    from typing import Any

    from kif.graph import Layer, Model, SelfTest, TensorSpec

    @dataclasses.dataclass
    class OracleSpec:
        name: str
        dtype: str
        shape: tuple[int | None, ...]
        meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    spec, oracle = TensorSpec("x", "float32", (None, 2)), OracleSpec("x", "float32", (None, 2))
    assert repr(spec).replace("TensorSpec", OracleSpec.__qualname__) == repr(oracle)
    assert spec == TensorSpec("x", "float32", (None, 2), {}) and spec != TensorSpec("x", "float32", (None, 3))
    assert spec.__eq__(oracle) is NotImplemented and TensorSpec.__hash__ is None  # unhashable, as eq=True made it
    for cls in (TensorSpec, Layer, SelfTest, Model):
        assert dataclasses.is_dataclass(cls)
        fields = [f.name for f in dataclasses.fields(cls)]
        assert list(inspect.signature(cls).parameters) == fields == list(cls.__match_args__)
    model = Model("m", [spec], [spec], [Layer("d", "Dense", {"units": 2}, ["x"], ["y"])])
    assert model.weights == {} and model.metadata == {} and model.producer == {} and model.composites == {}
    assert Model("n", [], [], []).weights is not Model("n", [], [], []).weights  # a fresh dict per instance
    copy = dataclasses.replace(model, name="n")
    assert copy.name == "n" and copy.layers is model.layers and copy != model and dataclasses.replace(copy, name="m") == model
    assert pickle.loads(pickle.dumps(model)) == model
    assert dataclasses.asdict(model)["layers"][0]["attributes"] == {"units": 2}
    model.metadata = {"self": model}  # type: ignore[dict-item]
    assert "..." in repr(model)  # a model inside its own metadata is shown once, not recursed into


def test_the_reader_module_hands_writers_the_writer_module_names() -> None:
    """The writer half lives in kif.bundle.safetensors_write (an open does not load it); the names writers use
    through safetensors_io are that module's, and a name neither module has is an AttributeError."""
    from kif.bundle import safetensors_io, safetensors_write

    for name in ("write", "plan_header", "file_size", "Digests", "MAPPED_AHEAD"):
        assert getattr(safetensors_io, name) is getattr(safetensors_write, name)
    with pytest.raises(AttributeError, match="no_such_name"):
        safetensors_io.no_such_name  # noqa: B018


def test_version_numerals_match_as_the_version_regex() -> None:
    """The spec version pattern is matched with string methods (schema_rt.Numerals); the oracle is its regex, on
    dotted strings of numerals with and without leading zeros, signs, spaces, non-ASCII digits and newlines."""
    import re

    from kif.schemas_patterns import matcher
    from kif.validate import schema_rt

    rng = np.random.default_rng(7)
    pieces = ["0", "1", "9", "10", "01", "00", "123", "", "+1", "-0", " 1", "1 ", "٣", "²", "1\n", "a", "0x1"]
    for count in (1, 2, 3, 4):
        pattern = "^" + "\\.".join(["(0|[1-9][0-9]*)"] * count) + "\\Z"
        built = eval(repr(matcher(pattern)), {"_rt": schema_rt})
        assert isinstance(built, schema_rt.Numerals) and built.count == count
        texts = [".".join(rng.choice(pieces, size=int(rng.integers(1, 6)))) for _ in range(3000)] + ["0.2.0\n", "\n0.2.0"]
        for text in texts:
            assert bool(built.search(text)) == bool(re.search(pattern, text)), (pattern, text)


def test_a_plain_open_compiles_no_regex(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    # pathlib first: the standard library's urllib.parse (which pathlib imports) compiles a regex at import, and a
    # bare venv has not imported pathlib by then; what this test guards is the regexes kif's own open compiles.
    code = "import re, sys, pathlib, numpy, kif\nre.purge()\nkif.load(sys.argv[1])\nprint(len(re._cache))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(kif.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0"], "a valid open compiles no regex (re's cache stays empty)"


def test_the_generated_type_list_is_the_schema_folders_listing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The oracle: the two folders listed, as the catalog did in every process before; an open lists no folder."""
    from kif import catalog, schemas

    root = schemas.schema_dir()
    listed = [n.removesuffix(".schema.json") for n in os.listdir(root / "layers") if n.endswith(".schema.json")]
    listed += ["op." + n.removesuffix(".schema.json") for n in os.listdir(root / "ops") if n.endswith(".schema.json")]
    assert list(catalog.catalog()) == sorted(listed)
    path = _bundle(tmp_path)

    def no_listing(*args: object) -> None:
        raise AssertionError(f"an open listed a folder: {args}")

    catalog.catalog.cache_clear()
    try:
        monkeypatch.setattr(os, "listdir", no_listing)
        monkeypatch.setattr(os, "scandir", no_listing)
        assert float(kif.load(path).weights["d1/kernel"].sum()) == 32.0
    finally:
        monkeypatch.undo()
        catalog.catalog.cache_clear()


def test_a_schema_file_added_or_removed_after_generation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Added: its type is found by name (one stat, only for a name the list lacks). Removed: an installation error
    naming the file. A name that is not a type never reaches the file system outside the schema folders."""
    import shutil

    from kif import catalog, schemas
    from kif.errors import KifError

    root = tmp_path / "schemas"
    shutil.copytree(schemas.schema_dir(), root)
    text = (root / "layers" / "Dense.schema.json").read_text(encoding="utf-8")
    (root / "layers" / "Zense.schema.json").write_text(text.replace('"title": "Dense"', '"title": "Zense"'), encoding="utf-8")
    (root / "layers" / "Flatten.schema.json").unlink()
    (tmp_path / "Evil.schema.json").write_text(text, encoding="utf-8")
    monkeypatch.setattr(schemas, "schema_root", lambda: str(root))
    catalog.catalog.cache_clear()
    schemas.one.cache_clear()
    try:
        found = catalog.catalog()
        assert "Zense" in found and found["Zense"].type == "Zense" and found["Zense"].weights.keys() == {"kernel", "bias"}
        assert "Zense" not in list(found)  # listed when the checks are regenerated
        for name in ("../Evil", "layers/../../Evil", "op.../Evil", "", "Nope", 3):
            assert name not in found
        with pytest.raises(KifError, match=r"layers/Flatten\.schema\.json: cannot read the schema") as caught:
            found["Flatten"]
        assert caught.value.code == "installation"
    finally:
        monkeypatch.undo()
        catalog.catalog.cache_clear()
        schemas.one.cache_clear()


def test_tensor_type_behaves_as_the_named_tuple_it_was() -> None:
    """The oracle: the same fields declared with typing.NamedTuple (the class before it was written out)."""
    import copy
    import pickle
    from typing import NamedTuple

    from kif.layers import TensorType

    class Oracle(NamedTuple):
        dtype: str
        shape: tuple[int | None, ...]

    mine, oracle = TensorType("float32", (None, 3)), Oracle("float32", (None, 3))
    assert repr(mine) == repr(oracle).replace("Oracle", "TensorType")
    assert mine == oracle == ("float32", (None, 3)) and hash(mine) == hash(oracle) and isinstance(mine, tuple)
    assert (mine.dtype, mine.shape) == tuple(mine) == (mine[0], mine[1]) and len(mine) == 2
    assert TensorType(shape=(2,), dtype="int8") == Oracle(shape=(2,), dtype="int8")
    assert mine._fields == oracle._fields == TensorType.__match_args__ == Oracle.__match_args__
    assert mine._replace(shape=(1,)) == oracle._replace(shape=(1,)) and type(mine._replace(dtype="x")) is TensorType
    assert mine._asdict() == oracle._asdict()
    for damaged in (lambda cls: cls("a"), lambda cls: cls("a", (), 3), lambda cls: cls("a", (1,))._replace(rank=1)):
        with pytest.raises((TypeError, ValueError)) as mine_error:
            damaged(TensorType)
        with pytest.raises((TypeError, ValueError)) as oracle_error:
            damaged(Oracle)
        assert mine_error.type is oracle_error.type
    for copied in (pickle.loads(pickle.dumps(mine)), copy.copy(mine), copy.deepcopy(mine)):
        assert copied == mine and type(copied) is TensorType
    with pytest.raises(AttributeError):
        mine.dtype = "int8"  # type: ignore[misc]
    match mine:
        case TensorType(dtype, shape):
            assert (dtype, shape) == ("float32", (None, 3))
