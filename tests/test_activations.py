"""dlbook.activations を PyTorch (float64) と数値微分に比べる。"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook import activations as act
from dlbook.gradcheck import numerical_gradient

SHAPES = [(7,), (3, 5), (2, 3, 4)]
ATOL = 1e-10

# 名前 → PyTorch の対応する関数 (step は微分できないので別扱い)
TORCH_FN: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,  # negative_slope=0.01 が既定
    "elu": F.elu,  # alpha=1.0 が既定
    "gelu": F.gelu,  # approximate="none" (erf) が既定
    "swish": F.silu,
    "mish": F.mish,
}


def _randn(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return 3.0 * np.random.default_rng(seed).standard_normal(shape)


class TestElementwise:
    @pytest.mark.parametrize("shape", SHAPES)
    @pytest.mark.parametrize("name", sorted(TORCH_FN))
    def test_forward_matches_torch(self, name: str, shape) -> None:
        x = _randn(shape, 0)
        f, _ = act.ACTIVATIONS[name]
        expected = TORCH_FN[name](torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(f(x), expected, rtol=0, atol=ATOL)

    @pytest.mark.parametrize("shape", SHAPES)
    @pytest.mark.parametrize("name", sorted(TORCH_FN))
    def test_grad_matches_autograd(self, name: str, shape) -> None:
        x = _randn(shape, 1)
        _, df = act.ACTIVATIONS[name]
        xt = torch.from_numpy(x).requires_grad_()
        TORCH_FN[name](xt).sum().backward()
        np.testing.assert_allclose(df(x), xt.grad.numpy(), rtol=0, atol=ATOL)

    @pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
    def test_grad_matches_numerical(self, name: str) -> None:
        x = _randn((4, 5), 2)
        f, df = act.ACTIVATIONS[name]
        num = numerical_gradient(lambda z: float(np.sum(f(z))), x)
        np.testing.assert_allclose(df(x), num, rtol=1e-6, atol=1e-7)

    @pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
    def test_does_not_modify_input(self, name: str) -> None:
        x = _randn((3, 4), 3)
        x_before = x.copy()
        f, df = act.ACTIVATIONS[name]
        f(x), df(x)
        np.testing.assert_array_equal(x, x_before)


class TestAtZero:
    """x = ±0.0 の勾配は PyTorch の約束に合わせる (ReLU は 0 など)。"""

    @pytest.mark.parametrize("name", sorted(TORCH_FN))
    def test_grad_at_signed_zero_matches_autograd(self, name: str) -> None:
        x = np.array([0.0, -0.0])
        _, df = act.ACTIVATIONS[name]
        xt = torch.from_numpy(x.copy()).requires_grad_()
        TORCH_FN[name](xt).sum().backward()
        assert xt.grad is not None
        np.testing.assert_allclose(df(x), xt.grad.numpy(), rtol=0, atol=1e-15)

    def test_known_values_at_zero(self) -> None:
        """PyTorch の約束を値で書いておく (autograd と同じ)。"""
        x = np.array([0.0, -0.0])
        np.testing.assert_array_equal(act.relu_grad(x), [0.0, 0.0])
        np.testing.assert_array_equal(act.leaky_relu_grad(x), [0.01, 0.01])
        np.testing.assert_array_equal(act.elu_grad(x), [1.0, 1.0])
        # ステップ関数は PyTorch で微分できない。本書の約束は 0
        np.testing.assert_array_equal(act.step_grad(x), [0.0, 0.0])

    @pytest.mark.parametrize("alpha", [0.3, 2.0])
    def test_hyperparameters_at_zero(self, alpha: float) -> None:
        x = np.array([0.0, -0.0])
        for f, ours in [
            (lambda t: F.leaky_relu(t, negative_slope=alpha),
             act.leaky_relu_grad),
            (lambda t: F.elu(t, alpha=alpha), act.elu_grad),
        ]:  # fmt: skip
            xt = torch.from_numpy(x.copy()).requires_grad_()
            f(xt).sum().backward()
            assert xt.grad is not None
            np.testing.assert_allclose(
                ours(x, alpha), xt.grad.numpy(), rtol=0, atol=1e-15
            )


class TestHyperParameters:
    @pytest.mark.parametrize("alpha", [0.1, 0.3])
    def test_leaky_relu_alpha(self, alpha: float) -> None:
        x = _randn((5, 3), 4)
        xt = torch.from_numpy(x).requires_grad_()
        y = F.leaky_relu(xt, negative_slope=alpha)
        y.sum().backward()
        np.testing.assert_allclose(act.leaky_relu(x, alpha), y.detach())
        np.testing.assert_allclose(act.leaky_relu_grad(x, alpha), xt.grad)

    @pytest.mark.parametrize("alpha", [0.5, 2.0])
    def test_elu_alpha(self, alpha: float) -> None:
        x = _randn((5, 3), 5)
        xt = torch.from_numpy(x).requires_grad_()
        y = F.elu(xt, alpha=alpha)
        y.sum().backward()
        np.testing.assert_allclose(act.elu(x, alpha), y.detach(), atol=ATOL)
        np.testing.assert_allclose(act.elu_grad(x, alpha), xt.grad, atol=ATOL)


class TestStep:
    def test_values(self) -> None:
        x = np.array([-2.0, -1e-9, 0.0, 1e-9, 3.0])
        expected = torch.heaviside(
            torch.from_numpy(x), torch.tensor(0.0, dtype=torch.float64)
        )
        np.testing.assert_array_equal(act.step(x), expected.numpy())

    def test_grad_is_zero_away_from_zero(self) -> None:
        x = _randn((4, 4), 6)
        num = numerical_gradient(lambda z: float(np.sum(act.step(z))), x)
        np.testing.assert_array_equal(act.step_grad(x), num)


class TestStability:
    @pytest.mark.parametrize(
        "name", ["sigmoid", "elu", "gelu", "swish", "mish"]
    )
    def test_extreme_inputs_match_autograd(self, name: str) -> None:
        x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
        f, df = act.ACTIVATIONS[name]
        with np.errstate(over="raise", invalid="raise"):
            y, dy = f(x), df(x)
        xt = torch.from_numpy(x.copy()).requires_grad_()
        yt = TORCH_FN[name](xt)
        yt.sum().backward()
        assert xt.grad is not None
        np.testing.assert_allclose(
            y, yt.detach().numpy(), rtol=1e-12, atol=ATOL
        )
        np.testing.assert_allclose(dy, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


class TestSoftmax:
    @pytest.mark.parametrize("shape", SHAPES)
    @pytest.mark.parametrize("axis", [-1, 0])
    def test_forward_matches_torch(self, shape, axis: int) -> None:
        x = _randn(shape, 7)
        expected = torch.softmax(torch.from_numpy(x), dim=axis).numpy()
        y = act.softmax(x, axis=axis)
        np.testing.assert_allclose(y, expected, rtol=0, atol=ATOL)
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, atol=1e-12)

    def test_naive_equals_stable_for_small_inputs(self) -> None:
        x = _randn((3, 6), 8)
        np.testing.assert_allclose(
            act.softmax_naive(x), act.softmax(x), rtol=1e-13
        )

    def test_naive_overflows_but_stable_does_not(self) -> None:
        x = np.array([[1000.0, 1001.0, 1002.0]])
        # exp(1000) = inf、inf / inf = nan (nan の警告は抑える)
        with (
            pytest.warns(RuntimeWarning, match="overflow"),
            np.errstate(invalid="ignore"),
        ):
            naive = act.softmax_naive(x)
        assert np.all(np.isnan(naive))
        expected = torch.softmax(torch.from_numpy(x), dim=-1).numpy()
        np.testing.assert_allclose(act.softmax(x), expected, atol=ATOL)

    @pytest.mark.parametrize("shape", SHAPES)
    @pytest.mark.parametrize("axis", [-1, 0])
    def test_grad_matches_autograd_and_numerical(
        self, shape, axis: int
    ) -> None:
        rng = np.random.default_rng(9)
        x, dout = _randn(shape, 10), rng.standard_normal(shape)
        xt = torch.from_numpy(x).requires_grad_()
        y = torch.softmax(xt, dim=axis)
        (y * torch.from_numpy(dout)).sum().backward()
        dx = act.softmax_grad(x, dout, axis=axis)
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=ATOL)
        num = numerical_gradient(
            lambda z: float(np.sum(act.softmax(z, axis=axis) * dout)), x
        )
        np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)
