"""dlbook.losses を PyTorch (float64) と数値微分に比べる。"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook import losses
from dlbook.gradcheck import numerical_gradient

SIZES = [(1, 2), (4, 3), (7, 10)]  # (N, K)、奇数を含む
ATOL = 1e-10


def _data(N: int, K: int, seed: int):
    rng = np.random.default_rng(seed)
    logits = 3.0 * rng.standard_normal((N, K))
    t = rng.integers(0, K, size=N)
    return logits, t


class TestMeanSquaredError:
    @pytest.mark.parametrize(("N", "K"), SIZES)
    def test_matches_torch_sum_over_2n(self, N: int, K: int) -> None:
        rng = np.random.default_rng(0)
        y, t = rng.standard_normal((2, N, K))
        yt = torch.from_numpy(y).requires_grad_()
        expected = F.mse_loss(yt, torch.from_numpy(t), reduction="sum")
        expected = expected / (2 * N)
        expected.backward()
        loss = losses.mean_squared_error(y, t)
        np.testing.assert_allclose(loss, expected.item(), rtol=1e-12)
        grad = losses.mean_squared_error_grad(y, t)
        np.testing.assert_allclose(grad, yt.grad.numpy(), atol=ATOL)
        num = numerical_gradient(lambda z: losses.mean_squared_error(z, t), y)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)

    def test_single_sample_is_half_sum_of_squares(self) -> None:
        y = np.array([0.1, 0.05, 0.6, 0.25])
        t = np.array([0.0, 0.0, 1.0, 0.0])
        expected = 0.5 * F.mse_loss(
            torch.from_numpy(y), torch.from_numpy(t), reduction="sum"
        )
        assert losses.mean_squared_error(y, t) == pytest.approx(
            expected.item(), rel=1e-14
        )

    def test_single_sample_grad_equals_batched(self) -> None:
        rng = np.random.default_rng(1)
        y, t = rng.standard_normal((2, 4))
        grad = losses.mean_squared_error_grad(y, t)
        batched = losses.mean_squared_error_grad(y[None], t[None])
        np.testing.assert_allclose(grad, batched[0], rtol=1e-15, atol=0)
        num = numerical_gradient(lambda z: losses.mean_squared_error(z, t), y)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)

    def test_shape_mismatch_raises(self) -> None:
        with pytest.raises(ValueError, match="同じ形"):
            losses.mean_squared_error(np.zeros((3, 4)), np.array([0, 1, 2]))


class TestCrossEntropy:
    @pytest.mark.parametrize(("N", "K"), SIZES)
    def test_matches_torch_nll_of_log(self, N: int, K: int) -> None:
        logits, t = _data(N, K, 1)
        y = torch.softmax(torch.from_numpy(logits), dim=-1)
        expected = F.nll_loss(torch.log(y), torch.from_numpy(t))
        loss = losses.cross_entropy(y.numpy(), t)
        np.testing.assert_allclose(loss, expected.item(), rtol=1e-12)

    @pytest.mark.parametrize(("N", "K"), SIZES)
    def test_one_hot_equals_indices(self, N: int, K: int) -> None:
        logits, t = _data(N, K, 2)
        y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        a = losses.cross_entropy(y, t)
        b = losses.cross_entropy(y, losses.one_hot(t, K))
        assert a == pytest.approx(b, rel=1e-14)

    def test_zero_probability_is_finite(self) -> None:
        y = np.array([[0.0, 1.0], [0.5, 0.5]])
        loss = losses.cross_entropy(y, np.array([0, 1]))
        expected = -(np.log(1e-12) + np.log(0.5)) / 2
        assert loss == pytest.approx(expected, rel=1e-14)

    @pytest.mark.parametrize(
        ("t", "match"),
        [
            (np.array([0, 1]), "合わない"),
            (np.array([0, 1, 3]), "0 以上 3 未満"),
            (np.array([0.0, 1.0, 2.0]), "整数"),
        ],
    )
    def test_bad_labels_raise(self, t: np.ndarray, match: str) -> None:
        y = np.full((3, 3), 1 / 3)
        with pytest.raises(ValueError, match=match):
            losses.cross_entropy(y, t)


class TestSoftmaxCrossEntropy:
    @pytest.mark.parametrize(("N", "K"), SIZES)
    def test_matches_torch(self, N: int, K: int) -> None:
        logits, t = _data(N, K, 3)
        xt = torch.from_numpy(logits).requires_grad_()
        expected = F.cross_entropy(xt, torch.from_numpy(t))
        expected.backward()
        loss = losses.softmax_cross_entropy(logits, t)
        np.testing.assert_allclose(loss, expected.item(), rtol=1e-12)
        grad = losses.softmax_cross_entropy_grad(logits, t)
        np.testing.assert_allclose(grad, xt.grad.numpy(), atol=ATOL)

    @pytest.mark.parametrize(("N", "K"), SIZES)
    def test_soft_targets_match_torch(self, N: int, K: int) -> None:
        logits, _ = _data(N, K, 4)
        t = np.random.default_rng(5).dirichlet(np.ones(K), size=N)
        xt = torch.from_numpy(logits).requires_grad_()
        expected = F.cross_entropy(xt, torch.from_numpy(t))
        expected.backward()
        loss = losses.softmax_cross_entropy(logits, t)
        np.testing.assert_allclose(loss, expected.item(), rtol=1e-12)
        grad = losses.softmax_cross_entropy_grad(logits, t)
        np.testing.assert_allclose(grad, xt.grad.numpy(), atol=ATOL)

    @pytest.mark.parametrize(("N", "K"), SIZES)
    def test_soft_target_grad_matches_numerical(self, N: int, K: int) -> None:
        logits, _ = _data(N, K, 11)
        t = np.random.default_rng(12).dirichlet(np.ones(K), size=N)
        num = numerical_gradient(
            lambda z: losses.softmax_cross_entropy(z, t), logits
        )
        grad = losses.softmax_cross_entropy_grad(logits, t)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)

    @pytest.mark.parametrize(("N", "K"), SIZES)
    def test_grad_matches_numerical(self, N: int, K: int) -> None:
        logits, t = _data(N, K, 6)
        num = numerical_gradient(
            lambda z: losses.softmax_cross_entropy(z, t), logits
        )
        grad = losses.softmax_cross_entropy_grad(logits, t)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)

    @pytest.mark.parametrize("scale", [1e3, 1e6])
    def test_huge_logits_are_stable(self, scale: float) -> None:
        logits, t = _data(5, 4, 7)
        logits = scale * logits
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            loss = losses.softmax_cross_entropy(logits, t)
        expected = F.cross_entropy(
            torch.from_numpy(logits), torch.from_numpy(t)
        )
        np.testing.assert_allclose(loss, expected.item(), rtol=1e-12)

    def test_equals_cross_entropy_of_softmax(self) -> None:
        logits, t = _data(6, 5, 8)
        y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        assert losses.softmax_cross_entropy(logits, t) == pytest.approx(
            losses.cross_entropy(y, t), rel=1e-12
        )

    def test_single_sample(self) -> None:
        logits, t = _data(1, 5, 9)
        a = losses.softmax_cross_entropy(logits[0], t[0])
        assert a == pytest.approx(
            losses.softmax_cross_entropy(logits, t), rel=1e-15
        )
        grad = losses.softmax_cross_entropy_grad(logits[0], t[0])
        assert grad.shape == (5,)
        batched = losses.softmax_cross_entropy_grad(logits, t)  # (1, 5)
        np.testing.assert_allclose(grad, batched[0], rtol=1e-15, atol=0)
        # one-hot の 1 個のデータでも同じ
        grad_oh = losses.softmax_cross_entropy_grad(
            logits[0], losses.one_hot(t, 5)[0]
        )
        np.testing.assert_allclose(grad_oh, batched[0], rtol=1e-15, atol=0)
        num = numerical_gradient(
            lambda z: losses.softmax_cross_entropy(z, t[0]), logits[0].copy()
        )
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)

    def test_does_not_modify_input(self) -> None:
        logits, t = _data(4, 3, 10)
        before = logits.copy()
        losses.softmax_cross_entropy(logits, t)
        losses.softmax_cross_entropy_grad(logits, t)
        np.testing.assert_array_equal(logits, before)

    def test_3d_logits_raise(self) -> None:
        with pytest.raises(ValueError, match=r"\(N, K\)"):
            losses.softmax_cross_entropy(np.zeros((2, 3, 4)), np.zeros(2))


class TestOneHotAndMseGradChecks:
    def test_one_hot_rejects_negative_and_out_of_range(self) -> None:
        with pytest.raises(ValueError, match="0 以上 3 未満"):
            losses.one_hot(np.array([-1]), 3)  # 後ろから数えない
        with pytest.raises(ValueError, match="0 以上 3 未満"):
            losses.one_hot(np.array([3]), 3)
        with pytest.raises(ValueError, match="整数"):
            losses.one_hot(np.array([0.0, 1.0]), 3)
        np.testing.assert_array_equal(
            losses.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]]
        )

    def test_mse_grad_rejects_class_labels(self) -> None:
        # N == K なので、確かめないと (3,) の t が黙って (3, 3) に広がる
        with pytest.raises(ValueError, match="同じ形"):
            losses.mean_squared_error_grad(
                np.zeros((3, 3)), np.array([0, 1, 2])
            )
