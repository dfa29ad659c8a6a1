"""`kif convert` refusals: each a one-line error naming the cause, a non-zero exit, and nothing written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
REALWORLD = Path(__file__).resolve().parents[1] / "fixtures" / "realworld"


def _convert(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kif.cli", "convert", *map(str, args)], capture_output=True, text=True, timeout=120)


def _assert_refused(result: subprocess.CompletedProcess[str], target: Path, *words: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line error, got:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], f"{word!r} missing from: {lines[0]}"
    assert not target.exists(), "nothing may be written under the output name"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".kif-tmp")], "no temporary files left behind"


def _realworld(name: str) -> Path:
    return REALWORLD / name


def test_lambda_layer_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out.kif"
    result = _convert(_realworld("carnd-nvidia-lambda/model.h5"), target)
    _assert_refused(result, target, "lambda_1", "Lambda", "Python code")


def test_unknown_custom_class_is_refused_and_names_the_opt_ins(tmp_path: Path) -> None:
    # The real file's tfa InstanceNormalization is in the built-in library; a class no library knows is refused.
    source = tmp_path / "acme.h5"
    shutil.copyfile(_realworld("cyclegan-cifar10-generator/cyclegan_cifar10-g_source.h5"), source)
    with h5py.File(source, "r+") as f:
        f.attrs["model_config"] = f.attrs["model_config"].replace('"InstanceNormalization"', '"AcmeNorm"')
    target = tmp_path / "out.kif"
    result = _convert(source, target)
    _assert_refused(result, target, "instance_normalization_7", "AcmeNorm", "--custom", "--allow-custom")


def test_corrupt_hdf5_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "broken.h5"
    data = (FIXTURES / "tf_keras" / "cnn_bn_pool" / "model.h5").read_bytes()
    source.write_bytes(data[: len(data) // 3])
    target = tmp_path / "out.kif"
    _assert_refused(_convert(source, target), target, str(source))


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "model.keras"
    source.write_bytes(b"not a model at all")
    target = tmp_path / "out.kif"
    _assert_refused(_convert(source, target), target, "magic")


def test_architecture_json_without_weights_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out.kif"
    result = _convert(FIXTURES / "keras3" / "mlp_activations" / "architecture.json", target)
    _assert_refused(result, target, "--weights")


def test_weights_file_of_another_model_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out.kif"
    arch = FIXTURES / "tf_keras" / "mlp_activations" / "architecture.json"
    other = FIXTURES / "tf_keras" / "simple_rnn" / "weights.h5"
    _assert_refused(_convert(arch, target, "--weights", other), target, "dense")


def test_config_naming_a_layer_the_weights_lack_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "model.h5"
    shutil.copy(FIXTURES / "tf_keras" / "cnn_bn_pool" / "model.h5", source)
    with h5py.File(source, "r+") as handle:
        victim = next(name for name in handle["model_weights"] if name.startswith("batch_normalization"))
        del handle["model_weights"][victim]
    target = tmp_path / "out.kif"
    _assert_refused(_convert(source, target), target, victim)


def test_directory_output_is_not_left_behind_either(tmp_path: Path) -> None:
    target = tmp_path / "out_dir"
    result = _convert(_realworld("carnd-nvidia-lambda/model.h5"), target)
    _assert_refused(result, target, "Lambda")
