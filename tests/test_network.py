"""dlbook.network.Sequential を torch.nn.Sequential と数値微分に比べる。"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlbook import layers as L
from dlbook.gradcheck import numerical_gradient, relative_error
from dlbook.network import Sequential
from dlbook.norm import BatchNorm
from dlbook.optim import SGD

ATOL = 1e-10


def _net(rng: np.random.Generator, D: int = 5, H: int = 7, K: int = 3):
    """Affine → ReLU → BatchNorm → Affine → Tanh → Affine。"""
    return Sequential(
        [
            L.Affine.from_init(D, H, rng),
            L.ReLU(),
            BatchNorm(H),
            L.Affine.from_init(H, H, rng, init="xavier_normal"),
            L.Tanh(),
            L.Affine.from_init(H, K, rng),
        ],
        L.SoftmaxCrossEntropy(),
    )


def _torch_net(net: Sequential) -> nn.Sequential:
    """同じ重みを持つ torch のネットワーク。"""
    H = net.layers[2].params["gamma"].shape[0]
    modules: list[nn.Module] = []
    for layer in net.layers:
        if isinstance(layer, L.Affine):
            W, b = layer.params["W"], layer.params["b"]
            lin = nn.Linear(*W.shape, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W.T))
                lin.bias.copy_(torch.from_numpy(b))
            modules.append(lin)
        elif isinstance(layer, BatchNorm):
            modules.append(nn.BatchNorm1d(H, dtype=torch.float64))
        else:
            modules.append({L.ReLU: nn.ReLU, L.Tanh: nn.Tanh}[type(layer)]())
    return nn.Sequential(*modules)


def _data(rng: np.random.Generator, N: int = 9, D: int = 5, K: int = 3):
    return rng.standard_normal((N, D)), rng.integers(0, K, N)


class TestSequential:
    def test_loss_and_grads_match_torch(self) -> None:
        rng = np.random.default_rng(0)
        net = _net(rng)
        tnet = _torch_net(net)
        x, t = _data(rng)
        loss = net.loss(x, t)
        dx = net.backward()
        xt = torch.from_numpy(x).requires_grad_()
        tloss = F.cross_entropy(tnet(xt), torch.from_numpy(t))
        tloss.backward()
        assert loss == pytest.approx(tloss.item(), rel=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=ATOL)
        tgrads = [p.grad.numpy() for p in tnet.parameters()]
        for ours, theirs in zip(net.grads().values(), tgrads, strict=True):
            theirs = theirs.T if theirs.ndim == 2 else theirs
            np.testing.assert_allclose(ours, theirs, atol=ATOL)

    def test_grads_match_numerical(self) -> None:
        rng = np.random.default_rng(1)
        net = _net(rng)
        x, t = _data(rng)
        net.loss(x, t)
        net.backward()
        for key, p in net.params().items():
            num = numerical_gradient(lambda _: net.loss(x, t), p)
            assert relative_error(net.grads()[key], num) < 1e-7, key

    def test_params_keys_and_aliasing(self) -> None:
        rng = np.random.default_rng(2)
        net = _net(rng)
        params = net.params()
        assert list(params) == [
            "0.W", "0.b", "2.gamma", "2.beta", "3.W", "3.b", "5.W", "5.b",
        ]  # fmt: skip
        assert params["3.W"] is net.layers[3].params["W"]
        x, t = _data(rng)
        net.loss(x, t)
        net.backward()
        W_before = net.layers[0].params["W"].copy()
        grads = net.grads()
        SGD(lr=0.1).step(net.params(), grads)
        np.testing.assert_allclose(
            net.layers[0].params["W"], W_before - 0.1 * grads["0.W"]
        )

    def test_training_reduces_loss(self) -> None:
        rng = np.random.default_rng(3)
        net = _net(rng)
        x = rng.standard_normal((60, 5))
        t = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1)  # 3 クラス
        first = net.loss(x, t)
        opt = SGD(lr=0.5)
        for _ in range(30):
            net.loss(x, t)
            net.backward()
            opt.step(net.params(), net.grads())
        assert net.loss(x, t, train=False) < 0.5 * first
        assert net.accuracy(x, t) > 0.8

    def test_accuracy(self) -> None:
        rng = np.random.default_rng(4)
        net = Sequential([L.ReLU()], L.SoftmaxCrossEntropy())
        x = rng.standard_normal((10, 4))
        t = np.argmax(x, axis=1)
        t[:3] = (t[:3] + 1) % 4  # 3 個だけ外す
        assert net.accuracy(x, t) == pytest.approx(0.7)
        assert net.accuracy(x, np.eye(4)[t]) == pytest.approx(0.7)

    def test_predict_uses_eval_mode(self) -> None:
        rng = np.random.default_rng(5)
        net = Sequential([L.Dropout(0.5, rng)], L.SoftmaxCrossEntropy())
        x = rng.standard_normal((4, 3))
        np.testing.assert_array_equal(net.predict(x), x)

    def test_repr_lists_layers(self) -> None:
        net = _net(np.random.default_rng(6))
        text = repr(net)
        assert "(0) Affine(W=(5, 7), b=(7,))" in text
        assert "loss=SoftmaxCrossEntropy" in text

    def test_bad_input_raises(self) -> None:
        with pytest.raises(ValueError, match="層が 1 つもない"):
            Sequential([], L.SoftmaxCrossEntropy())
        with pytest.raises(ValueError, match="Layer でない"):
            Sequential([np.tanh], L.SoftmaxCrossEntropy())  # type: ignore
        net = _net(np.random.default_rng(7))
        with pytest.raises(RuntimeError, match="backward"):
            net.grads()
        with pytest.raises(ValueError, match="データ数"):
            net.accuracy(np.zeros((4, 5)), np.zeros(3, dtype=int))
