"""dlbook.gradcheck: 数値微分と相対誤差、層の勾配確認。"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.gradcheck import check_layer, numerical_gradient, relative_error
from dlbook.layers import Affine, Layer


class TestNumericalGradient:
    @pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
    def test_matches_autograd(self, shape) -> None:
        x = np.random.default_rng(0).standard_normal(shape)
        xt = torch.from_numpy(x).requires_grad_()
        (torch.sin(xt) * xt**2).sum().backward()
        num = numerical_gradient(lambda z: float(np.sum(np.sin(z) * z**2)), x)
        np.testing.assert_allclose(num, xt.grad.numpy(), rtol=1e-7, atol=1e-9)

    def test_leaves_x_unchanged(self) -> None:
        x = np.random.default_rng(1).standard_normal((4, 3))
        before = x.copy()
        numerical_gradient(lambda z: float(np.sum(z**2)), x)
        np.testing.assert_array_equal(x, before)

    def test_restores_x_when_f_raises(self) -> None:
        x = np.arange(4.0)

        def f(z: np.ndarray) -> float:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            numerical_gradient(f, x)
        np.testing.assert_array_equal(x, np.arange(4.0))

    def test_integer_array_raises(self) -> None:
        with pytest.raises(ValueError, match="浮動小数点"):
            numerical_gradient(lambda z: 0.0, np.arange(3))


class TestRelativeError:
    def test_values(self) -> None:
        a = np.array([1.0, 0.0])
        assert relative_error(a, a) == 0.0
        assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
        b = np.array([0.0, 1.0])
        assert relative_error(a, b) == pytest.approx(np.sqrt(2) / 2)
        assert relative_error(a, 1.001 * a) == pytest.approx(0.001 / 2.001)

    def test_shape_mismatch_raises(self) -> None:
        with pytest.raises(ValueError, match="形が違う"):
            relative_error(np.zeros(3), np.zeros((3, 1)))


class _WrongAffine(Affine):
    """わざと dW を 2 倍にした層 (check_layer が誤りを検出するか)。"""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = super().backward(dout)
        self.grads["W"] = 2 * self.grads["W"]
        return dx


class TestCheckLayer:
    def _layer(self, cls: type[Layer]) -> Layer:
        rng = np.random.default_rng(2)
        return cls(rng.standard_normal((5, 3)), rng.standard_normal(3))

    def test_correct_layer_passes(self) -> None:
        rng = np.random.default_rng(3)
        x = rng.standard_normal((4, 5))
        errors = check_layer(self._layer(Affine), x, rng)
        assert set(errors) == {"x", "W", "b"}
        assert max(errors.values()) < 1e-8

    def test_wrong_gradient_is_detected(self) -> None:
        rng = np.random.default_rng(3)
        x = rng.standard_normal((4, 5))
        errors = check_layer(self._layer(_WrongAffine), x, rng)
        assert errors["x"] < 1e-8 and errors["b"] < 1e-8
        assert errors["W"] == pytest.approx(1 / 3, rel=1e-6)

    def test_does_not_modify_input_or_params(self) -> None:
        rng = np.random.default_rng(4)
        layer = self._layer(Affine)
        x = rng.standard_normal((2, 5))
        x_before, W_before = x.copy(), layer.params["W"].copy()
        check_layer(layer, x, rng)
        np.testing.assert_array_equal(x, x_before)
        np.testing.assert_array_equal(layer.params["W"], W_before)
