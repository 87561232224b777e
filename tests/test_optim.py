"""dlbook.optim を torch.optim と float64 で 1 歩ずつ比べる。"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from dlbook import optim

SHAPES = {"0.W": (3, 5), "0.b": (5,), "1.W": (2, 3, 3)}
STEPS = 7
RTOL = 1e-12

# (本書の最適化器, torch の最適化器, 本書の引数, torch の引数)
CASES: list[tuple[Any, Any, dict, dict]] = [
    (optim.SGD, torch.optim.SGD, {"lr": 0.1}, {"lr": 0.1}),
    (
        optim.SGD,
        torch.optim.SGD,
        {"lr": 0.1, "weight_decay": 0.01},
        {"lr": 0.1, "weight_decay": 0.01},
    ),
    (
        optim.Momentum,
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.9},
        {"lr": 0.05, "momentum": 0.9},
    ),
    (
        optim.Momentum,
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1},
        {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1},
    ),
    (
        optim.Nesterov,
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.9},
        {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    ),
    (
        optim.Nesterov,
        torch.optim.SGD,
        {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1},
        {"lr": 0.02, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1},
    ),
    (optim.AdaGrad, torch.optim.Adagrad, {"lr": 0.1}, {"lr": 0.1}),
    (
        optim.AdaGrad,
        torch.optim.Adagrad,
        {
            "lr": 0.1,
            "lr_decay": 0.05,
            "weight_decay": 0.01,
            "initial_accumulator_value": 0.2,
            "eps": 1e-6,
        },
        {
            "lr": 0.1,
            "lr_decay": 0.05,
            "weight_decay": 0.01,
            "initial_accumulator_value": 0.2,
            "eps": 1e-6,
        },
    ),
    (optim.RMSProp, torch.optim.RMSprop, {"lr": 0.01}, {"lr": 0.01}),
    (
        optim.RMSProp,
        torch.optim.RMSprop,
        {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "momentum": 0.5},
        {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "momentum": 0.5},
    ),
    (optim.Adam, torch.optim.Adam, {"lr": 0.01}, {"lr": 0.01}),
    (
        optim.Adam,
        torch.optim.Adam,
        {"lr": 0.03, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
        {"lr": 0.03, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
    ),
]


def _params(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


def _grads(params: dict[str, np.ndarray], rng: np.random.Generator):
    """2 次関数 0.5 * c * p^2 の勾配に雑音を足したもの。"""
    return {
        k: 1.5 * p + 0.3 * rng.standard_normal(p.shape)
        for k, p in params.items()
    }


class TestMatchesTorch:
    @pytest.mark.parametrize(("ours", "theirs", "kw", "tkw"), CASES)
    def test_trajectory(self, ours, theirs, kw, tkw) -> None:
        params = _params(0)
        tparams = {k: torch.tensor(p) for k, p in params.items()}
        opt, topt = ours(**kw), theirs(list(tparams.values()), **tkw)
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            grads = _grads(params, rng)
            for k, tp in tparams.items():
                tp.grad = torch.from_numpy(grads[k].copy())
            opt.step(params, grads)
            topt.step()
            for k, p in params.items():
                np.testing.assert_allclose(
                    p, tparams[k].numpy(), rtol=RTOL, atol=1e-14
                )

    @pytest.mark.parametrize(("ours", "theirs", "kw", "tkw"), CASES)
    def test_does_not_modify_grads(self, ours, theirs, kw, tkw) -> None:
        params = _params(2)
        grads = _grads(params, np.random.default_rng(3))
        before = {k: g.copy() for k, g in grads.items()}
        opt = ours(**kw)
        for _ in range(2):
            opt.step(params, grads)
        for k in grads:
            np.testing.assert_array_equal(grads[k], before[k])


class TestSemantics:
    def test_updates_arrays_in_place(self) -> None:
        params = _params(4)
        alias = params["0.W"]  # 層が持っている配列のつもり
        before = alias.copy()
        optim.SGD(lr=0.5).step(
            params, {k: np.ones_like(p) for k, p in params.items()}
        )
        assert params["0.W"] is alias
        np.testing.assert_allclose(alias, before - 0.5)

    def test_momentum_equals_zero_to_deep_learning_form(self) -> None:
        """v ← μv − ηg, W ← W + v (ゼロから作る版) と同じ軌跡。"""
        lr, mu = 0.1, 0.9
        params = _params(5)
        W = params["0.W"].copy()
        v = np.zeros_like(W)
        opt = optim.Momentum(lr=lr, momentum=mu)
        rng = np.random.default_rng(6)
        for _ in range(STEPS):
            g = rng.standard_normal(W.shape)
            v = mu * v - lr * g
            W = W + v
            opt.step({"0.W": params["0.W"]}, {"0.W": g})
        np.testing.assert_allclose(params["0.W"], W, rtol=1e-12)

    def test_adam_first_step_is_lr_times_sign(self) -> None:
        """バイアス補正により、最初の 1 歩はおよそ lr * sign(g)。"""
        p = np.zeros(4)
        g = np.array([3.0, -0.5, 1e-3, -200.0])
        optim.Adam(lr=0.01).step({"p": p}, {"p": g})
        np.testing.assert_allclose(p, -0.01 * np.sign(g), rtol=1e-4)


class TestBadInput:
    def test_key_mismatch_raises(self) -> None:
        with pytest.raises(ValueError, match="名前が違う"):
            optim.SGD().step({"a": np.zeros(2)}, {"b": np.zeros(2)})

    def test_shape_mismatch_raises(self) -> None:
        with pytest.raises(ValueError, match="形が違う"):
            optim.Adam().step({"a": np.zeros(2)}, {"a": np.zeros(3)})

    def test_negative_lr_raises(self) -> None:
        with pytest.raises(ValueError, match="0 以上"):
            optim.SGD(lr=-0.1)

    def test_nesterov_needs_momentum(self) -> None:
        with pytest.raises(ValueError, match="momentum > 0"):
            optim.Nesterov(momentum=0.0)
