"""The run plan (kif/plan.py, kif/plan_fuse.py): fused models against torch, and when a plan is rebuilt."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kif
from kif import limits, plan


def _conv_bn_relu(rng: np.random.Generator, *, use_bias: bool = True, scale: bool = True, center: bool = True) -> tuple[kif.Model, dict]:
    kernel = (rng.standard_normal((3, 3, 4, 6)) * 0.3).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    bn = {
        "gamma": (1 + 0.2 * rng.standard_normal(6)).astype(np.float32),
        "beta": rng.standard_normal(6).astype(np.float32),
        "moving_mean": rng.standard_normal(6).astype(np.float32),
        "moving_variance": rng.uniform(0.2, 2.0, 6).astype(np.float32),
    }
    b = kif.GraphBuilder("m")
    t = b.input("x", "float32", (None, 8, 8, 4))
    w = {"kernel": kernel, **({"bias": bias} if use_bias else {})}
    t = b.add("Conv2D", t, name="conv", filters=6, kernel_size=[3, 3], padding="same", use_bias=use_bias, weights=w)
    bw = {k: v for k, v in bn.items() if (k != "gamma" or scale) and (k != "beta" or center)}
    t = b.add("BatchNormalization", t, name="bn", epsilon=1e-3, scale=scale, center=center, weights=bw)
    b.output(b.add("ReLU", t, name="relu"))
    return b.build(), {"kernel": kernel, "bias": bias if use_bias else None, **bn, "scale": scale, "center": center}


def _torch_conv_bn_relu(x: np.ndarray, p: dict) -> np.ndarray:
    conv = torch.nn.Conv2d(4, 6, 3, padding=1, bias=p["bias"] is not None).double()
    norm = torch.nn.BatchNorm2d(6, eps=1e-3).double().eval()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(p["kernel"].transpose(3, 2, 0, 1).astype(np.float64)))
        if p["bias"] is not None:
            conv.bias.copy_(torch.from_numpy(p["bias"].astype(np.float64)))
        norm.weight.copy_(torch.from_numpy(p["gamma"].astype(np.float64)) if p["scale"] else torch.ones(6, dtype=torch.float64))
        norm.bias.copy_(torch.from_numpy(p["beta"].astype(np.float64)) if p["center"] else torch.zeros(6, dtype=torch.float64))
        norm.running_mean.copy_(torch.from_numpy(p["moving_mean"].astype(np.float64)))
        norm.running_var.copy_(torch.from_numpy(p["moving_variance"].astype(np.float64)))
        y = torch.relu(norm(conv(torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float64)))))
    return y.numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize("options", [{}, {"use_bias": False}, {"scale": False, "center": False}])
def test_conv_batchnorm_relu_is_one_folded_step_that_matches_torch(options: dict) -> None:
    rng = np.random.default_rng(1)
    model, params = _conv_bn_relu(rng, **options)
    x = rng.standard_normal((2, 8, 8, 4)).astype(np.float32)
    got = kif.run(model, x)["relu"]
    steps = next(iter(plan.plan_for(model)._schedules.values()))
    assert [[layer.name for layer in s.layers] for s in steps] == [["conv", "bn", "relu"]]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _torch_conv_bn_relu(x, params), rtol=1e-5, atol=1e-5)


def test_conv_output_read_twice_is_not_folded() -> None:
    rng = np.random.default_rng(2)
    model, params = _conv_bn_relu(rng)
    model.outputs.append(kif.TensorSpec("conv", "float32", (None, 8, 8, 6)))  # the conv output is a graph output too
    x = rng.standard_normal((1, 8, 8, 4)).astype(np.float32)
    out = kif.run(model, x)
    steps = next(iter(plan.plan_for(model)._schedules.values()))
    assert [len(s.layers) for s in steps] == [1, 1, 1]  # conv alone, and bn → relu is not a Conv/Dense chain
    np.testing.assert_allclose(out["relu"], _torch_conv_bn_relu(x, params), rtol=1e-5, atol=1e-5)


def test_dense_residual_add_in_place_matches_torch() -> None:
    rng = np.random.default_rng(3)
    k1, b1 = rng.standard_normal((5, 5)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 5))
    h = b.add("Dense", x, name="d", units=5, activation="linear", weights={"kernel": k1, "bias": b1})
    h = b.add("Activation", h, name="act", activation="gelu")
    b.output(b.add("Add", [h, x], name="res"))
    model = b.build()
    xs = rng.standard_normal((3, 5)).astype(np.float32)
    got = kif.run(model, xs)["res"]
    t64 = {k: torch.from_numpy(v.astype(np.float64)) for k, v in {"x": xs, "k": k1, "b": b1}.items()}
    expected = torch.nn.functional.gelu(t64["x"] @ t64["k"] + t64["b"])
    np.testing.assert_allclose(got, (expected + t64["x"]).numpy(), rtol=1e-6, atol=1e-6)
    before = xs.copy()
    kif.run(model, xs)
    np.testing.assert_array_equal(xs, before)  # the graph input is never written into


def _dense_model(kernel: np.ndarray) -> kif.Model:
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("Dense", x, name="d", units=2, use_bias=False, weights={"kernel": kernel}))
    return b.build()


def test_plan_is_reused_and_rebuilt_after_an_edit() -> None:
    model = _dense_model(np.eye(2, dtype=np.float32))
    x = np.array([[1.0, 2.0]], np.float32)
    np.testing.assert_array_equal(kif.run(model, x)["d"], x)
    first = plan.plan_for(model)
    assert plan.plan_for(model) is first  # unchanged: the same plan
    model.weights[model.layers[0].weights["kernel"]] = 2 * np.eye(2, dtype=np.float32)  # a new array: seen
    np.testing.assert_array_equal(kif.run(model, x)["d"], 2 * x)
    model.layers[0].attributes["activation"] = "relu"  # an attribute edited in place: seen
    np.testing.assert_array_equal(kif.run(model, -x)["d"], np.zeros_like(x))
    assert plan.plan_for(model) is not first


def test_limits_in_force_apply_to_a_planned_model() -> None:
    model = _dense_model(np.eye(2, dtype=np.float32))
    x = np.ones((4, 2), np.float32)
    kif.run(model, x)
    with limits.override(max_tensor_elements=4), pytest.raises(kif.KifError) as caught:
        kif.run(model, x)
    assert caught.value.code == "limit-exceeded"
    kif.run(model, x)  # the old limits again


def test_a_new_input_shape_gets_its_own_guard() -> None:
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, None))
    b.output(b.add("Softmax", x, name="s"))
    model = b.build()
    np.testing.assert_allclose(kif.run(model, np.zeros((1, 2), np.float32))["s"], [[0.5, 0.5]])
    with limits.override(max_tensor_elements=6), pytest.raises(kif.KifError) as caught:
        kif.run(model, np.zeros((1, 8), np.float32))  # a second signature: its own shape rule and cost check
    assert caught.value.code == "limit-exceeded"
    np.testing.assert_allclose(kif.run(model, np.zeros((1, 4), np.float32))["s"], [[0.25] * 4])


class _Unknown:
    """Identity whose shape rule leaves the last extent unknown (as a data-dependent output would)."""

    @staticmethod
    def infer(attrs: dict, inputs: list, weights: dict) -> list:
        x = inputs[0]
        return [x._replace(shape=(*x.shape[:-1], None))]

    @staticmethod
    def run(attrs: dict, inputs: list, weights: dict) -> list:
        return [inputs[0] * np.float32(2)]


class _Liar:
    """Says it keeps the shape; returns one more column."""

    @staticmethod
    def infer(attrs: dict, inputs: list, weights: dict) -> list:
        return [inputs[0]]

    @staticmethod
    def run(attrs: dict, inputs: list, weights: dict) -> list:
        x = inputs[0]
        return [np.concatenate([x, x[..., :1]], axis=-1)]


def _custom_then_dense(custom: str) -> kif.Model:
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 2))
    t = b.add("Activation", x, name="c", activation="linear")
    b.output(b.add("Dense", t, name="d", units=1, use_bias=False, weights={"kernel": np.ones((2, 1), np.float32)}))
    model = b.build()
    model.layers[0].type = custom
    return model


def test_an_unknown_extent_runs_layer_by_layer_with_each_guard() -> None:
    kif.runtime.register_custom("test.plan:Unknown", _Unknown)
    model = _custom_then_dense("test.plan:Unknown")
    x = np.array([[1.0, 2.0]], np.float32)
    np.testing.assert_array_equal(kif.run(model, x)["d"], [[6.0]])  # 2 * (1 + 2), by hand
    assert next(iter(plan.plan_for(model)._schedules.values())) is plan._DYNAMIC


def test_a_kernel_that_departs_from_its_shape_rule_is_guarded_on_its_arrays() -> None:
    kif.runtime.register_custom("test.plan:Liar", _Liar)
    model = _custom_then_dense("test.plan:Liar")
    with pytest.raises(kif.KifError) as caught:  # Dense's rule sees the three columns the kernel really returned
        kif.run(model, np.array([[1.0, 2.0]], np.float32))
    assert caught.value.code == "run-failed" and caught.value.pointer == "d"


def test_dense_batchnorm_is_folded_and_matches_torch() -> None:
    rng = np.random.default_rng(4)
    kernel, bias = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    bn = {
        "gamma": rng.standard_normal(4).astype(np.float32),
        "beta": rng.standard_normal(4).astype(np.float32),
        "moving_mean": rng.standard_normal(4).astype(np.float32),
        "moving_variance": rng.uniform(0.5, 2, 4).astype(np.float32),
    }
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 5, 3))
    t = b.add("Dense", x, name="d", units=4, weights={"kernel": kernel, "bias": bias})
    t = b.add("BatchNormalization", t, name="bn", epsilon=1e-3, weights=bn)
    b.output(b.add("Activation", t, name="act", activation="tanh"))
    model = b.build()
    xs = rng.standard_normal((2, 5, 3)).astype(np.float32)
    got = kif.run(model, xs)["act"]
    assert [len(s.layers) for s in next(iter(plan.plan_for(model)._schedules.values()))] == [3]
    norm = torch.nn.BatchNorm1d(4, eps=1e-3).double().eval()
    with torch.no_grad():
        for param, value in (
            (norm.weight, bn["gamma"]),
            (norm.bias, bn["beta"]),
            (norm.running_mean, bn["moving_mean"]),
            (norm.running_var, bn["moving_variance"]),
        ):
            param.copy_(torch.from_numpy(value.astype(np.float64)))
        y = torch.from_numpy(xs.astype(np.float64)) @ torch.from_numpy(kernel.astype(np.float64)) + torch.from_numpy(
            bias.astype(np.float64)
        )
        expected = torch.tanh(norm(y.transpose(1, 2)).transpose(1, 2)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
