"""SavedModels KIF cannot or must not convert: each is one ``kif`` error line naming the file, a non-zero
exit from ``kif convert``, and nothing left at the destination. Damaged copies are made from the committed
tf_keras fixtures (python-sdk/tests/fixtures/savedmodel)."""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kif.cli import main
from kif.keras.savedmodel.bundle_entry import parse_entry
from kif.keras.savedmodel.sstable import read_table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "savedmodel"


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / name / "saved", tmp_path / name))


def _entry(saved: Path, key: str):
    index = saved / "variables" / "variables.index"
    return next(parse_entry(key, v, str(index)) for k, v in read_table(index) if k == key.encode())


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _graph_only(tmp: Path) -> Path:
    return _copy("graph_only", tmp)


def _keras3_export(tmp: Path) -> Path:
    return _copy("keras3_export", tmp)


def _lambda(tmp: Path) -> Path:
    return _copy("lambda_model", tmp)


def _corrupt_index(tmp: Path) -> Path:
    saved = _copy("cnn_bn_pool", tmp)
    _flip(saved / "variables" / "variables.index", 20)  # inside the data block: its CRC-32C no longer holds
    return saved


def _index_without_magic(tmp: Path) -> Path:
    saved = _copy("cnn_bn_pool", tmp)
    index = saved / "variables" / "variables.index"
    _flip(index, index.stat().st_size - 1)
    return saved


def _truncated_shard(tmp: Path) -> Path:
    saved = _copy("cnn_bn_pool", tmp)
    shard = saved / "variables" / "variables.data-00000-of-00001"
    shard.write_bytes(shard.read_bytes()[:-100])
    return saved


def _crc_mismatch(tmp: Path) -> Path:
    saved = _copy("cnn_bn_pool", tmp)
    entry = _entry(saved, "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE")
    _flip(saved / "variables" / "variables.data-00000-of-00001", entry.offset + entry.size // 2)
    return saved


def _missing_shard(tmp: Path) -> Path:
    saved = _copy("sharded_mlp", tmp)
    (saved / "variables" / "variables.data-00003-of-00008").unlink()
    return saved


def _no_metadata_no_pb(tmp: Path) -> Path:
    saved = _copy("mlp_activations", tmp)
    (saved / "keras_metadata.pb").unlink()  # TF 2.21's saved_model.pb keeps no Keras metadata of its own
    return saved


def _bare_pb(tmp: Path) -> Path:
    tmp.mkdir(parents=True)
    shutil.copy(FIXTURES / "nested_model" / "saved" / "saved_model.pb", tmp / "saved_model.pb")
    return tmp / "saved_model.pb"


CASES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    # case: (make the input, what the message must say, a file or part of a path it must name)
    "graph-only": (_graph_only, "no Keras model in it", "saved_model.pb"),
    "keras3-export": (_keras3_export, "re-save it from Keras", "saved_model.pb"),
    "lambda": (_lambda, "Lambda", "lambda_model"),
    "corrupt-index": (_corrupt_index, "CRC-32C", "variables.index"),
    "index-without-magic": (_index_without_magic, "magic number", "variables.index"),
    "truncated-shard": (_truncated_shard, "truncated", "variables.data-00000-of-00001"),
    "crc-mismatch": (_crc_mismatch, "fails its CRC-32C check", "variables.data-00000-of-00001"),
    "missing-shard": (_missing_shard, "variables.data-00003-of-00008 is missing", "variables.data-00003-of-00008"),
    "bare-saved-model-pb": (_bare_pb, "no variables/variables.index beside it", "saved_model.pb"),
    "metadata-not-saved": (_no_metadata_no_pb, "Keras metadata was not saved", "saved_model.pb"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refusal_is_one_line_nonzero_exit_no_output(case: str, tmp_path: Path) -> None:
    make, says, names = CASES[case]
    src = make(tmp_path / "in")
    for dst in (tmp_path / "out.kif", tmp_path / "out_dir"):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(["convert", str(src), str(dst)])
        message = err.getvalue().strip()
        assert status != 0
        assert "\n" not in message and message.startswith("kif convert: [convert-"), message
        assert says in message and names in message, message
        assert "Traceback" not in message
        assert not dst.exists(), "nothing is left behind"


def test_weights_option_with_a_savedmodel_is_a_usage_error(tmp_path: Path) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(["convert", str(FIXTURES / "nested_model" / "saved"), str(tmp_path / "m.kif"), "--weights", "x.h5"])
    assert status != 0 and "[convert-usage]" in err.getvalue()
