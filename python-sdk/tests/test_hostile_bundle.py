"""Tiny bundles that ask for terabytes or for hours: refused with limit-exceeded, before allocating.

Each model here validates (its graph inputs have an unknown batch, so the declared shapes stay
within the limits) and only the concrete inputs make one layer's output, scratch or work
explode. The runtime must refuse that layer by name, allocating next to nothing: tracemalloc
sees NumPy's allocations, and the subprocess test measures the peak RSS of the child.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import kif

GiB = 1024**3


def _repeat(b: kif.GraphBuilder) -> tuple[str, np.ndarray]:
    x = b.input("x", "float32", (None, 1))
    return b.add("RepeatVector", x, name="boom", n=2**30), np.ones((4, 1), "float32")  # 4 GiB a sample


def _upsampling(b: kif.GraphBuilder) -> tuple[str, np.ndarray]:
    x = b.input("x", "float32", (None, None, None, 1))
    return b.add("UpSampling2D", x, name="boom", size=[2**16, 2**16]), np.ones((1, 2, 2, 1), "float32")


def _resizing(b: kif.GraphBuilder) -> tuple[str, np.ndarray]:
    x = b.input("x", "float32", (None, 4, 4, 1))
    return b.add("Resizing", x, name="boom", height=2**15, width=2**15), np.ones((8, 4, 4, 1), "float32")


def _zero_padding(b: kif.GraphBuilder) -> tuple[str, np.ndarray]:
    x = b.input("x", "float32", (None, 1, 1, 1))
    big = 2**14 - 1  # 32767^2 float32 stays just under 4 GiB a sample, so the declared shape validates
    return b.add("ZeroPadding2D", x, name="boom", padding=[[big, big], [big, big]]), np.ones((8, 1, 1, 1), "float32")


def _conv_transpose(b: kif.GraphBuilder) -> tuple[str, np.ndarray]:
    x = b.input("x", "float32", (None, 1, 1, 1))
    kernel = np.ones((1, 1, 1, 1), "float32")
    y = b.add(
        "Conv2DTranspose", x, name="boom", filters=1, kernel_size=[1, 1], strides=[2**15, 2**15], use_bias=False, weights={"kernel": kernel}
    )
    return y, np.ones((8, 1, 1, 1), "float32")


def _dense_empty_axis(b: kif.GraphBuilder) -> tuple[str, np.ndarray]:
    x = b.input("x", "float32", (None, 0))
    kernel = np.zeros((0, 2**28), "float32")  # zero bytes in the file, 1 GiB of output per sample
    return b.add("Dense", x, name="boom", units=2**28, use_bias=False, weights={"kernel": kernel}), np.ones((8, 0), "float32")


def _pool_window(b: kif.GraphBuilder) -> tuple[str, np.ndarray]:
    x = b.input("x", "float32", (None, None, 1))  # the window is huge; the taps loop would run for hours
    y = b.add("MaxPooling1D", x, name="boom", pool_size=[10**8], strides=[1], padding="same")
    return y, np.ones((1, 4, 1), "float32")


def _concat_fan_out(b: kif.GraphBuilder) -> tuple[str, np.ndarray]:
    x = b.input("x", "float32", (None, 1))
    return b.add("Concatenate", [x] * 4097, name="boom", axis=-1), np.ones((1, 1), "float32")


CASES: dict[str, Callable[[kif.GraphBuilder], tuple[str, np.ndarray]]] = {
    "RepeatVector": _repeat,
    "UpSampling2D": _upsampling,
    "Resizing": _resizing,
    "ZeroPadding2D": _zero_padding,
    "Conv2DTranspose": _conv_transpose,
    "Dense-empty-axis": _dense_empty_axis,
    "MaxPooling1D-window": _pool_window,
    "Concatenate-fan-out": _concat_fan_out,
}


def _model(make: Callable[[kif.GraphBuilder], tuple[str, np.ndarray]]) -> tuple[kif.Model, np.ndarray]:
    # The builder applies the limits to the declared shapes too (unknown dimensions as 1): the window and
    # fan-out cases are refused there already (test_declared_shapes_beyond_the_limits_fail_validation);
    # building them with raised limits leaves the runtime's own guard to test.
    with kif.limits.override(max_layer_ops=10**18, max_layer_inputs=10**6):
        b = kif.GraphBuilder("hostile")
        y, sample = make(b)
        b.output(y)
        return b.build(), sample


@pytest.mark.parametrize("case", sorted(CASES))
def test_runtime_refuses_before_allocating(case: str) -> None:
    model, sample = _model(CASES[case])
    tracemalloc.start()
    try:
        with pytest.raises(kif.KifError) as caught:
            kif.run(model, sample)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error = caught.value
    assert error.code == "limit-exceeded", error
    assert "'boom'" in error.message and error.pointer == "boom"
    assert peak < 64 * 1024**2, f"{peak} bytes allocated before refusing"


def test_the_same_layers_run_within_the_limits() -> None:
    """The guard refuses sizes, not layer types: small versions of the same calls run."""
    b = kif.GraphBuilder("fine")
    x = b.input("x", "float32", (None, 2, 2, 1))
    y = b.add("UpSampling2D", x, name="up", size=[3, 3])
    y = b.add("ZeroPadding2D", y, name="pad", padding=[[1, 1], [1, 1]])
    b.output(b.add("Conv2DTranspose", y, name="ct", filters=1, kernel_size=[1, 1], strides=[2, 2], use_bias=False,
                   weights={"kernel": np.full((1, 1, 1, 1), 2.0, "float32")}))
    out = kif.run(b.build(), np.ones((1, 2, 2, 1), "float32"))["ct"]
    padded = np.pad(np.ones((6, 6)), 1)
    expected = np.zeros((16, 16))
    expected[::2, ::2] = 2 * padded  # stride-2 transposed 1x1 conv: every input pixel lands on an even cell
    np.testing.assert_array_equal(out[0, :, :, 0], expected)


def test_declared_shapes_beyond_the_limits_fail_validation(tmp_path: Path) -> None:
    """With every dimension known, the same refusal happens at validation, at the layer's pointer."""
    with kif.limits.override(max_layer_ops=10**18, max_layer_inputs=10**6):  # so that the builder lets them through
        b = kif.GraphBuilder("static")
        x = b.input("x", "float32", (1, 10, 1))
        b.output(b.add("MaxPooling1D", x, name="pool", pool_size=[10**9], strides=None, padding="same"))
        pool = kif.save(b.build(), tmp_path / "pool.kif")
        b = kif.GraphBuilder("fan")
        x = b.input("x", "float32", (None, 1))
        b.output(b.add("Concatenate", [x] * 4097, name="cat", axis=-1))
        fan = kif.save(b.build(), tmp_path / "fan.kif")
        assert kif.validate(pool).ok and kif.validate(fan).ok
    report = kif.validate(pool, level="structure")
    assert [(f.code, f.pointer) for f in report.errors] == [("limit-exceeded", "/layers/0")]
    assert ("limit-exceeded", "/layers/0/inputs") in [(f.code, f.pointer) for f in kif.validate(fan).errors]
    b = kif.GraphBuilder("builder")
    x = b.input("x", "float32", (1, 10, 1))
    b.output(b.add("MaxPooling1D", x, name="pool", pool_size=[10**9], strides=None, padding="same"))
    with pytest.raises(kif.KifError) as caught:
        b.build()  # the builder's shape inference applies the same guard
    assert caught.value.code == "limit-exceeded" and caught.value.pointer == "/layers/0"


# -- the whole way through, in a child process whose peak RSS is measured -------------------------

_CHILD = """
# peak RSS from VmHWM: ru_maxrss survives fork + exec, so it would report the parent pytest
import json, re, sys
import numpy as np
mode, path, inputs = sys.argv[1:4]
result = {}
if mode == "api":
    import kif
    try:
        kif.run(path, {"x": np.ones((4, 1), "float32")})
        result["code"] = None
    except kif.KifError as exc:
        result["code"] = exc.code
else:
    from kif.cli import main
    run = ["run", path, "--inputs", inputs, "--output", inputs + ".out.npz"]
    argv = run if mode == "cli-run" else ["validate", "--level", "numeric", path]
    result["status"] = main(argv)
result["rss_mb"] = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
print("RESULT " + json.dumps(result))
"""


def _terabyte_bundle(tmp_path: Path) -> tuple[Path, Path]:
    """x [N, 1] -> RepeatVector(2^30) -> GlobalMaxPooling1D -> [N, 1]: 4 GiB per sample in the middle, 4 bytes out."""
    b = kif.GraphBuilder("terabytes")
    x = b.input("x", "float32", (None, 1))
    y = b.add("RepeatVector", x, name="repeat", n=2**30)
    b.output(b.add("GlobalMaxPooling1D", y, name="pool"))
    sample = np.ones((256, 1), "float32")  # 1 TiB in the middle
    model = b.build(self_test=kif.SelfTest({"x": sample}, {"pool": sample}, rtol=0.0, atol=0.0))
    path = kif.save(model, tmp_path / "terabytes.kif")
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, x=sample)
    return path, inputs


@pytest.mark.parametrize("mode", ["api", "cli-run", "cli-validate-numeric"])
def test_terabyte_request_is_refused_with_small_rss(tmp_path: Path, mode: str) -> None:
    path, inputs = _terabyte_bundle(tmp_path)
    assert path.stat().st_size < 16 * 1024, "a few-KB bundle"
    assert kif.validate(path).ok  # level full: the declared shapes are fine
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(path), str(inputs)], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    assert result["rss_mb"] < 200, result
    if mode == "api":
        assert result["code"] == "limit-exceeded"
    else:
        assert result["status"] == 1 and "limit-exceeded" in done.stdout + done.stderr, done.stdout + done.stderr
        assert not (tmp_path / "inputs.npz.out.npz").exists()


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_named_pipe_is_refused_without_reading_it(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer appears: the open must refuse it from its stat alone."""
    import os

    pipe = tmp_path / "model.kif"
    os.mkfifo(pipe)
    code = "import sys, kif\ntry:\n    kif.load(sys.argv[1])\nexcept kif.KifError as e:\n    print(e.code)"
    done = subprocess.run([sys.executable, "-c", code, str(pipe)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "bundle-unreadable", done.stderr
