"""Load-time fusions of kif.torch (kif/torch/fuse.py) and the forward program (kif/torch/program.py).

Oracle: the same network written out in torch.nn.functional in this file (convolution, then batch norm from the
moving statistics, then ReLU, the documented unfused math), and hand-derived values for the Dense case.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import kif
import kif.torch

RNG = np.random.default_rng(11)


def _w(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * 0.3).astype(np.float32)


def _conv_bn_relu(cin: int = 3, cout: int = 4, *, conv_out: bool = False) -> tuple[kif.Model, dict[str, np.ndarray]]:
    w = {
        "kernel": _w(3, 3, cin, cout),
        "bias": _w(cout),
        "gamma": 1 + _w(cout),
        "beta": _w(cout),
        "moving_mean": _w(cout),
        "moving_variance": RNG.uniform(0.5, 1.5, cout).astype(np.float32),
    }
    b = kif.GraphBuilder("conv_bn_relu")
    t = b.input("x", "float32", (None, 6, 6, cin))
    conv = {"kernel": w["kernel"], "bias": w["bias"]}
    t = b.add("Conv2D", t, name="conv", filters=cout, kernel_size=[3, 3], padding="same", weights=conv)
    if conv_out:
        b.output(t)
    bn = {k: w[k] for k in ("gamma", "beta", "moving_mean", "moving_variance")}
    t = b.add("BatchNormalization", t, name="bn", epsilon=1e-3, weights=bn)
    t = b.add("ReLU", t, name="relu")
    b.output(t)
    return b.build(), w


def _oracle(x: np.ndarray, w: dict[str, Any]) -> np.ndarray:
    """Conv2D 'same' (stride 1, odd kernel: one zero cell each side), BatchNormalization, ReLU: channels-last in and out."""
    t = {k: torch.from_numpy(np.asarray(v)) for k, v in w.items()}
    xf = torch.from_numpy(x).permute(0, 3, 1, 2)
    y = F.conv2d(xf, t["kernel"].permute(3, 2, 0, 1), t["bias"], padding=1)
    y = F.batch_norm(y, t["moving_mean"], t["moving_variance"], t["gamma"], t["beta"], training=False, eps=1e-3)
    return torch.relu(y).permute(0, 2, 3, 1).numpy()


def test_conv_batchnorm_relu_is_folded_and_matches_the_unfused_math() -> None:
    model, w = _conv_bn_relu()
    module = kif.torch.load(model)
    assert len(module.fused) == 1  # the conv and its BatchNormalization run as one convolution
    assert [getattr(c, "__name__", None) for c in module.program.calls] == [None, "relu_"]  # then ReLU in place
    assert not any("fused" in key for key in module.state_dict())  # folded weights are derived, not saved
    x = RNG.standard_normal((2, 6, 6, 3)).astype(np.float32)
    with torch.inference_mode():
        got = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, _oracle(x, w), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), got, rtol=0, atol=0)


def test_a_changed_weight_is_seen_by_the_folded_path() -> None:
    model, w = _conv_bn_relu()
    module = kif.torch.load(model)
    state = module.state_dict()
    changed = {k: v.clone() for k, v in state.items()}
    conv_key = next(k for k in changed if k.endswith("conv.weight"))
    mean_key = next(k for k in changed if k.endswith("moving_mean"))
    changed[conv_key] *= 2
    changed[mean_key] += 0.5
    module.load_state_dict(changed)
    x = RNG.standard_normal((1, 6, 6, 3)).astype(np.float32)
    want = _oracle(x, {**w, "kernel": w["kernel"] * 2, "moving_mean": w["moving_mean"] + 0.5})
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), want, rtol=1e-5, atol=1e-5)


def test_with_gradients_the_layers_run_unfused_and_train() -> None:
    model, w = _conv_bn_relu()
    module = kif.torch.load(model)
    x = torch.from_numpy(RNG.standard_normal((2, 6, 6, 3)).astype(np.float32)).requires_grad_(True)
    y = module(x)
    np.testing.assert_allclose(y.detach().numpy(), _oracle(x.detach().numpy(), w), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    conv = module.layers[0].conv
    assert x.grad is not None and conv.weight.grad is not None and float(conv.weight.grad.abs().sum()) > 0


def test_float64_input_runs_unfused_in_float64() -> None:
    model, w = _conv_bn_relu()
    module = kif.torch.load(model)
    x = RNG.standard_normal((1, 6, 6, 3))
    with torch.no_grad():
        got = module(torch.from_numpy(x))
    assert got.dtype == torch.float64
    wide = {k: np.asarray(v, np.float64) for k, v in w.items()}
    np.testing.assert_allclose(got.numpy(), _oracle(x, wide), rtol=1e-12, atol=1e-12)


def test_dense_batchnorm_fold_hand_derived() -> None:
    """Dense kernel 2·I, bias 1; BN mean 1, variance 4 - eps, gamma 3, beta -1: y = (2x + 1 - 1) / 2 * 3 - 1 = 3x - 1."""
    eps = 1e-3
    b = kif.GraphBuilder("dense_bn")
    t = b.input("x", "float32", (None, 2))
    dense = {"kernel": 2 * np.eye(2, dtype=np.float32), "bias": np.ones(2, np.float32)}
    t = b.add("Dense", t, name="dense", units=2, weights=dense)
    bn = {
        "gamma": np.full(2, 3, np.float32),
        "beta": np.full(2, -1, np.float32),
        "moving_mean": np.ones(2, np.float32),
        "moving_variance": np.full(2, 4 - eps, np.float32),
    }
    b.output(b.add("BatchNormalization", t, name="bn", epsilon=eps, weights=bn))
    module = kif.torch.load(b.build())
    assert len(module.fused) == 1
    x = np.array([[0.0, 1.0], [2.0, -1.0]], np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), 3 * x - 1, rtol=1e-6, atol=1e-6)


def test_no_fold_when_the_conv_output_has_another_reader() -> None:
    model, w = _conv_bn_relu(conv_out=True)
    module = kif.torch.load(model)
    assert len(module.fused) == 0  # the conv output is also a graph output: it must exist unfused
    x = RNG.standard_normal((1, 6, 6, 3)).astype(np.float32)
    with torch.no_grad():
        got = dict(zip(module.output_names, module(torch.from_numpy(x)), strict=True))
    np.testing.assert_allclose(got[model.layers[-1].outputs[0]].numpy(), _oracle(x, w), rtol=1e-5, atol=1e-5)


def test_deepcopy_runs_its_own_layers() -> None:
    model, w = _conv_bn_relu()
    module = kif.torch.load(model)
    twin = copy.deepcopy(module)
    with torch.no_grad():
        twin.layers[0].conv.weight.mul_(0)
        twin.layers[0].conv.bias.mul_(0)
    x = RNG.standard_normal((1, 6, 6, 3)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), _oracle(x, w), rtol=1e-5, atol=1e-5)
        zero = {**w, "kernel": 0 * w["kernel"], "bias": 0 * w["bias"]}
        np.testing.assert_allclose(twin(torch.from_numpy(x)).numpy(), _oracle(x, zero), rtol=1e-5, atol=1e-5)


def test_relu_never_overwrites_a_tensor_another_layer_reads() -> None:
    """conv -> ReLU and conv -> Add(conv, relu): the ReLU must leave the conv output intact (oracle: conv + relu(conv))."""
    kernel, bias = _w(3, 3, 3, 4), _w(4)
    b = kif.GraphBuilder("branch")
    x = b.input("x", "float32", (None, 6, 6, 3))
    c = b.add("Conv2D", x, name="conv", filters=4, kernel_size=[3, 3], padding="same", weights={"kernel": kernel, "bias": bias})
    r = b.add("ReLU", c, name="relu")
    b.output(b.add("Add", [c, r], name="add"))
    module = kif.torch.load(b.build())
    assert "relu_" not in [getattr(f, "__name__", None) for f in module.program.calls]
    data = RNG.standard_normal((2, 6, 6, 3)).astype(np.float32)
    conv = F.conv2d(
        torch.from_numpy(data).permute(0, 3, 1, 2), torch.from_numpy(kernel).permute(3, 2, 0, 1), torch.from_numpy(bias), padding=1
    )
    want = (conv + torch.relu(conv)).permute(0, 2, 3, 1).numpy()
    with torch.inference_mode():
        np.testing.assert_allclose(module(torch.from_numpy(data)).numpy(), want, rtol=1e-5, atol=1e-5)


def test_dense_relu_trains_with_gradients_and_matches_without() -> None:
    """Dense(relu) writes its activation in place only where autograd does not record it; hand-derived values."""
    b = kif.GraphBuilder("dense_relu")
    t = b.input("x", "float32", (None, 2))
    kernel = np.array([[1.0, -1.0], [2.0, 0.5]], np.float32)
    b.output(
        b.add("Dense", t, name="dense", units=2, activation="relu", weights={"kernel": kernel, "bias": np.array([0.5, -0.5], np.float32)})
    )
    module = kif.torch.load(b.build())
    x = np.array([[1.0, 1.0], [-1.0, 2.0]], np.float32)
    want = np.array([[3.5, 0.0], [3.5, 1.5]], np.float32)  # relu(x @ kernel + bias): [3.5, -1], [3.5, 1.5]
    with torch.no_grad():
        np.testing.assert_array_equal(module(torch.from_numpy(x)).numpy(), want)
    y = module(torch.from_numpy(x))
    np.testing.assert_array_equal(y.detach().numpy(), want)
    y.sum().backward()
    grad = module.layers[0].linear.weight.grad
    assert grad is not None
    # d sum / d weight[u]: the x rows where unit u is active (unit 0: both rows, unit 1: the second only)
    np.testing.assert_array_equal(grad.numpy(), np.array([[0.0, 3.0], [-1.0, 2.0]], np.float32))


def _dense_add(second_reader: bool) -> tuple[kif.Model, dict[str, np.ndarray]]:
    """d = Dense(x) (a new tensor), s = Add(x, d), and with ``second_reader`` also Multiply(d, s)."""
    w = {"kernel": _w(3, 3), "bias": _w(3)}
    b = kif.GraphBuilder("dense_add")
    x = b.input("x", "float32", (None, 3))
    d = b.add("Dense", x, name="dense", units=3, weights=w)
    s = b.add("Add", [x, d], name="add")
    b.output(b.add("Multiply", [d, s], name="mul") if second_reader else s)
    return b.build(), w


def test_add_writes_into_its_new_input_only_when_nothing_else_reads_it() -> None:
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    for second_reader in (False, True):
        model, w = _dense_add(second_reader)
        module = kif.torch.load(model)
        names = [getattr(f, "__name__", None) for f in module.program.calls]
        assert ("add" in names) is (not second_reader)
        d = x @ w["kernel"] + w["bias"]  # oracle: NumPy
        want = d * (x + d) if second_reader else x + d
        with torch.inference_mode():
            np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), want, rtol=1e-6, atol=1e-6)


def test_add_in_place_falls_back_on_broadcast_and_on_gradients() -> None:
    w = {"kernel": _w(3, 3), "bias": _w(3)}
    b = kif.GraphBuilder("broadcast_add")
    x, y = b.input("x", "float32", (None, 3)), b.input("y", "float32", (None, 3))
    b.output(b.add("Add", [y, b.add("Dense", x, name="dense", units=3, weights=w)], name="add"))
    module = kif.torch.load(b.build())
    assert "add" in [getattr(f, "__name__", None) for f in module.program.calls]  # it may write into Dense's output
    one, four = RNG.standard_normal((1, 3)).astype(np.float32), RNG.standard_normal((4, 3)).astype(np.float32)
    d = one @ w["kernel"] + w["bias"]  # shape (1, 3): the sum (4, 3) does not fit in it, so a new tensor is made
    with torch.no_grad():
        got = module(torch.from_numpy(one), torch.from_numpy(four)).numpy()
    np.testing.assert_allclose(got, four + d, rtol=1e-6, atol=1e-6)
    xs = torch.from_numpy(four).requires_grad_(True)
    module(xs, torch.from_numpy(four)).sum().backward()
    assert xs.grad is not None  # d sum(y + Dense(x)) / dx = kernel row sums, recorded: nothing was overwritten
    np.testing.assert_allclose(xs.grad.numpy(), np.broadcast_to(w["kernel"].sum(axis=1), (4, 3)), rtol=1e-6)


def test_a_module_built_under_inference_mode_folds_and_runs() -> None:
    model, w = _conv_bn_relu()
    with torch.inference_mode():
        module = kif.torch.load(model)
        assert len(module.fused) == 1
        x = RNG.standard_normal((1, 6, 6, 3)).astype(np.float32)
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), _oracle(x, w), rtol=1e-5, atol=1e-5)


def test_dense_weight_is_a_view_of_the_keras_layout_and_stays_exact() -> None:
    """nn.Linear's [units, in] weight shares [in, units] memory (the faster GEMM); hand-derived values."""
    kernel = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)  # [in 2, units 3]
    b = kif.GraphBuilder("dense_layout")
    t = b.input("x", "float32", (None, 2))
    b.output(b.add("Dense", t, name="dense", units=3, weights={"kernel": kernel, "bias": np.zeros(3, np.float32)}))
    module = kif.torch.load(b.build())
    weight = module.layers[0].linear.weight
    assert tuple(weight.shape) == (3, 2) and weight.T.is_contiguous()
    with torch.no_grad():
        got = module(torch.tensor([[1.0, 1.0], [0.0, 2.0]])).numpy()
    np.testing.assert_array_equal(got, np.array([[5.0, 7.0, 9.0], [8.0, 10.0, 12.0]], np.float32))  # x @ kernel
