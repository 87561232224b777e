"""dlbook.layers を PyTorch (float64) と数値微分に比べる。"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlbook import layers as L
from dlbook.gradcheck import check_layer, numerical_gradient, relative_error

ATOL = 1e-10
GRAD_TOL = 1e-7  # 数値微分との相対誤差


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _torch_vjp(fn: Callable, x: np.ndarray, dout: np.ndarray, *params):
    """PyTorch で fn(x, *params) と dout による勾配を求める。"""
    xs = [torch.from_numpy(a).requires_grad_() for a in (x, *params)]
    out = fn(*xs)
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), [a.grad.numpy() for a in xs]


class TestAffine:
    @pytest.mark.parametrize(("N", "D_in", "D_out"), [(1, 1, 1), (5, 7, 3)])
    def test_matches_torch(self, N: int, D_in: int, D_out: int) -> None:
        rng = _rng(0)
        W, b = rng.standard_normal((D_in, D_out)), rng.standard_normal(D_out)
        x, dout = (
            rng.standard_normal((N, D_in)),
            rng.standard_normal((N, D_out)),
        )
        layer = L.Affine(W, b)
        out = layer.forward(x)
        dx = layer.backward(dout)
        expected, (ex, eW, eb) = _torch_vjp(
            lambda x, W, b: F.linear(x, W.T, b), x, dout, W, b
        )
        np.testing.assert_allclose(out, expected, atol=ATOL)
        np.testing.assert_allclose(dx, ex, atol=ATOL)
        np.testing.assert_allclose(layer.grads["W"], eW, atol=ATOL)
        np.testing.assert_allclose(layer.grads["b"], eb, atol=ATOL)

    def test_gradcheck(self) -> None:
        rng = _rng(1)
        layer = L.Affine(rng.standard_normal((4, 3)), rng.standard_normal(3))
        errors = check_layer(layer, rng.standard_normal((3, 4)), rng)
        assert max(errors.values()) < GRAD_TOL

    def test_copies_initial_arrays(self) -> None:
        W, b = np.ones((2, 3)), np.zeros(3)
        layer = L.Affine(W, b)
        layer.params["W"] -= 1.0  # 最適化器のようにその場で更新
        np.testing.assert_array_equal(W, np.ones((2, 3)))

    @pytest.mark.parametrize("init", ["he_normal", "xavier_uniform"])
    def test_from_init(self, init: str) -> None:
        layer = L.Affine.from_init(200, 50, _rng(2), init=init)
        assert layer.params["W"].shape == (200, 50)
        np.testing.assert_array_equal(layer.params["b"], np.zeros(50))
        std = np.sqrt(2 / 200) if init == "he_normal" else np.sqrt(2 / 250)
        assert layer.params["W"].std() == pytest.approx(std, rel=0.05)

    def test_bad_shapes_raise(self) -> None:
        with pytest.raises(ValueError, match="D_out"):
            L.Affine(np.zeros((3, 4)), np.zeros(3))
        with pytest.raises(ValueError, match="未知の初期化"):
            L.Affine.from_init(3, 4, _rng(), init="zeros")
        layer = L.Affine(np.zeros((3, 4)), np.zeros(4))
        with pytest.raises(ValueError, match=r"\(N, 3\)"):
            layer.forward(np.zeros((2, 5)))


ACTIVATION_LAYERS = [
    (L.ReLU, nn.ReLU, {}),
    (L.Sigmoid, nn.Sigmoid, {}),
    (L.Tanh, nn.Tanh, {}),
    (L.LeakyReLU, nn.LeakyReLU, {}),
    (L.GELU, nn.GELU, {}),
    (L.Swish, nn.SiLU, {}),
    (L.Mish, nn.Mish, {}),
    (L.ELU, nn.ELU, {}),
]


class TestActivationLayers:
    @pytest.mark.parametrize("shape", [(3,), (4, 5), (2, 3, 3, 5)])
    @pytest.mark.parametrize(("ours", "theirs", "kw"), ACTIVATION_LAYERS)
    def test_matches_torch(self, ours, theirs, kw, shape) -> None:
        rng = _rng(3)
        x, dout = rng.standard_normal((2, *shape))
        layer = ours(**kw)
        out = layer.forward(x)
        dout_before = dout.copy()
        dx = layer.backward(dout)
        expected, (ex,) = _torch_vjp(theirs(**kw), x, dout)
        np.testing.assert_allclose(out, expected, atol=ATOL)
        np.testing.assert_allclose(dx, ex, atol=ATOL)
        np.testing.assert_array_equal(dout, dout_before)

    @pytest.mark.parametrize(("ours", "theirs", "kw"), ACTIVATION_LAYERS)
    def test_gradcheck(self, ours, theirs, kw) -> None:
        rng = _rng(4)
        errors = check_layer(ours(**kw), rng.standard_normal((3, 4)), rng)
        assert errors["x"] < GRAD_TOL

    @pytest.mark.parametrize(
        ("ours", "theirs", "kw"),
        [
            (L.LeakyReLU, nn.LeakyReLU, (0.2,)),
            (L.ELU, nn.ELU, (0.7,)),
        ],
    )
    def test_alpha(self, ours, theirs, kw) -> None:
        rng = _rng(5)
        x, dout = rng.standard_normal((2, 6, 4))
        layer = ours(*kw)
        out, dx = layer.forward(x), layer.backward(dout)
        expected, (ex,) = _torch_vjp(theirs(*kw), x, dout)
        np.testing.assert_allclose(out, expected, atol=ATOL)
        np.testing.assert_allclose(dx, ex, atol=ATOL)


class TestDropout:
    def test_train_masks_and_rescales(self) -> None:
        p = 0.3
        x = _rng(6).standard_normal((400, 50))
        layer = L.Dropout(p, _rng(7))
        out = layer.forward(x, train=True)
        dropped = out == 0
        assert dropped.mean() == pytest.approx(p, abs=0.01)
        np.testing.assert_allclose(out[~dropped], x[~dropped] / (1 - p))

    @pytest.mark.parametrize("p", [0.3, 0.5])
    def test_backward_matches_torch_with_same_mask(self, p: float) -> None:
        rng = _rng(8)
        x, dout = rng.standard_normal((2, 5, 7))
        layer = L.Dropout(p, _rng(80))
        out = layer.forward(x)
        dx = layer.backward(dout)
        # 残すかどうか (0/1) だけを層から取り出し、倍率は PyTorch 側で掛ける
        assert layer.mask is not None
        keep = torch.from_numpy((layer.mask != 0).astype(np.float64))
        assert 0 < keep.sum() < keep.numel()  # 両方の要素がある
        expected, (ex,) = _torch_vjp(lambda x_t: x_t * keep / (1 - p), x, dout)
        np.testing.assert_allclose(out, expected, rtol=1e-15, atol=0)
        np.testing.assert_allclose(dx, ex, rtol=1e-15, atol=0)

    @pytest.mark.parametrize("p", [0.1, 0.3, 0.8])
    def test_mask_statistics(self, p: float) -> None:
        shape = (200, 300)
        layer = L.Dropout(p, _rng(81))
        layer.forward(np.ones(shape))
        assert layer.mask is not None and layer.mask.shape == shape
        # マスクの値は 0 か 1/(1-p) だけ
        values = np.unique(layer.mask)
        np.testing.assert_allclose(values, [0.0, 1 / (1 - p)], rtol=1e-15)
        # 0 にする割合は p (二項分布の標準偏差の 5 倍以内)
        n = layer.mask.size
        sd = np.sqrt(p * (1 - p) / n)
        assert abs((layer.mask == 0).mean() - p) < 5 * sd
        # 行ごとにも偏らない
        row_drop = (layer.mask == 0).mean(axis=1)  # (200,)
        assert abs(row_drop.mean() - p) < 5 * sd
        assert row_drop.std() < 2 * np.sqrt(p * (1 - p) / shape[1])
        # 呼ぶたびに新しいマスクを引く
        first = layer.mask.copy()
        layer.forward(np.ones(shape))
        assert not np.array_equal(first, layer.mask)

    def test_gradcheck_with_fixed_mask(self) -> None:
        """同じシードの rng で作り直せば同じマスクになり、数値微分できる。"""
        p = 0.4
        rng = _rng(82)
        x, dout = rng.standard_normal((2, 6, 5))

        def loss(z: np.ndarray) -> float:
            return float(np.sum(L.Dropout(p, _rng(83)).forward(z) * dout))

        layer = L.Dropout(p, _rng(83))
        layer.forward(x)
        dx = layer.backward(dout)
        num = numerical_gradient(loss, x.copy())
        assert relative_error(dx, num) < GRAD_TOL
        np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-9)

    def test_expectation_is_preserved(self) -> None:
        x = np.ones((1000, 100))
        out = L.Dropout(0.5, _rng(9)).forward(x)
        assert out.mean() == pytest.approx(1.0, abs=0.02)

    def test_eval_is_identity(self) -> None:
        rng = _rng(10)
        x, dout = rng.standard_normal((2, 4, 3))
        layer = L.Dropout(0.9, rng)
        np.testing.assert_array_equal(layer.forward(x, train=False), x)
        np.testing.assert_array_equal(layer.backward(dout), dout)
        assert torch.equal(
            F.dropout(torch.from_numpy(x), 0.9, training=False),
            torch.from_numpy(layer.forward(x, train=False)),
        )

    @pytest.mark.parametrize("p", [-0.1, 1.0])
    def test_bad_p_raises(self, p: float) -> None:
        with pytest.raises(ValueError, match="0 以上 1 未満"):
            L.Dropout(p, _rng())


class TestFlatten:
    @pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 7)])
    def test_matches_torch(self, shape) -> None:
        rng = _rng(11)
        x = rng.standard_normal(shape)
        layer = L.Flatten()
        out = layer.forward(x)
        dout = rng.standard_normal(out.shape)
        expected, (ex,) = _torch_vjp(nn.Flatten(), x, dout)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(layer.backward(dout), ex)

    @pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 2, 4)])
    def test_gradcheck(self, shape) -> None:
        rng = _rng(14)
        errors = check_layer(L.Flatten(), rng.standard_normal(shape), rng)
        assert errors["x"] < GRAD_TOL


class TestSoftmaxCrossEntropy:
    @pytest.mark.parametrize(("N", "K"), [(1, 3), (5, 4), (9, 10)])
    @pytest.mark.parametrize("one_hot", [False, True])
    def test_matches_torch(self, N: int, K: int, one_hot: bool) -> None:
        rng = _rng(12)
        logits, labels = rng.standard_normal((N, K)), rng.integers(0, K, N)
        t = np.eye(K)[labels] if one_hot else labels
        layer = L.SoftmaxCrossEntropy()
        loss = layer.forward(logits, t)
        dx = layer.backward()
        xt = torch.from_numpy(logits).requires_grad_()
        expected = F.cross_entropy(xt, torch.from_numpy(labels))
        expected.backward()
        assert loss == pytest.approx(expected.item(), rel=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=ATOL)
        np.testing.assert_allclose(2.0 * dx, layer.backward(2.0))

    @pytest.mark.parametrize("target", ["labels", "one_hot", "soft"])
    def test_backward_matches_numerical(self, target: str) -> None:
        rng = _rng(15)
        N, K = 5, 4
        logits, labels = rng.standard_normal((N, K)), rng.integers(0, K, N)
        t = {
            "labels": labels,
            "one_hot": np.eye(K)[labels],
            "soft": rng.dirichlet(np.ones(K), size=N),
        }[target]
        layer = L.SoftmaxCrossEntropy()
        num = numerical_gradient(lambda z: layer.forward(z, t), logits)
        layer.forward(logits, t)  # 数値微分で上書きされた状態を戻す
        dx = layer.backward()
        assert relative_error(dx, num) < GRAD_TOL
        np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(layer.backward(0.5), 0.5 * num,
                                   rtol=1e-6, atol=1e-9)  # fmt: skip

    def test_1d_logits_raise(self) -> None:
        with pytest.raises(ValueError, match=r"\(N, K\)"):
            L.SoftmaxCrossEntropy().forward(np.zeros(3), np.array(1))


class TestMeanSquaredError:
    def test_matches_torch(self) -> None:
        rng = _rng(13)
        y, t = rng.standard_normal((2, 5, 3))
        layer = L.MeanSquaredError()
        loss, dy = layer.forward(y, t), layer.backward()
        yt = torch.from_numpy(y).requires_grad_()
        expected = F.mse_loss(yt, torch.from_numpy(t), reduction="sum") / 10
        expected.backward()
        assert loss == pytest.approx(expected.item(), rel=1e-12)
        np.testing.assert_allclose(dy, yt.grad.numpy(), atol=ATOL)

    @pytest.mark.parametrize(("N", "K"), [(1, 3), (4, 2), (6, 5)])
    def test_backward_matches_numerical(self, N: int, K: int) -> None:
        rng = _rng(16)
        y, t = rng.standard_normal((2, N, K))
        layer = L.MeanSquaredError()
        num = numerical_gradient(lambda z: layer.forward(z, t), y)
        layer.forward(y, t)
        dy = layer.backward()
        assert relative_error(dy, num) < GRAD_TOL
        np.testing.assert_allclose(dy, num, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(layer.backward(3.0), 3.0 * num,
                                   rtol=1e-6, atol=1e-9)  # fmt: skip


@pytest.mark.parametrize(
    "call",
    [
        lambda: L.Affine(np.zeros((2, 3)), np.zeros(3)).forward([[1.0, 2.0]]),
        lambda: L.SoftmaxCrossEntropy().forward([[1.0, 2.0]], np.array([0])),
    ],
    ids=["Affine", "SoftmaxCrossEntropy"],
)
def test_a_list_gives_a_clear_type_error(call) -> None:
    with pytest.raises(TypeError, match=r"np\.ndarray"):
        call()
