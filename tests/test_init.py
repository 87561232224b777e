"""dlbook.init の分布を式と torch.nn.init に比べる。"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import init as tinit

from dlbook import init

# 本書の全結合の重みは (D_in, D_out)、PyTorch は (out, in) の向き
SHAPES = [(301, 199), (64, 3, 5, 5)]
STD_RTOL = 0.03  # 標本が 6 万個以上なので標本標準偏差の誤差は 1% 未満


def _torch_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[::-1] if len(shape) == 2 else shape


def _torch_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    w = torch.empty(_torch_shape(shape))
    return tinit._calculate_fan_in_and_fan_out(w)


class TestFans:
    @pytest.mark.parametrize("shape", [*SHAPES, (7, 3), (4, 2, 3)])
    def test_matches_torch(self, shape: tuple[int, ...]) -> None:
        assert init.fan_in_out(shape) == _torch_fans(shape)

    def test_1d_raises(self) -> None:
        with pytest.raises(ValueError, match="2 次元以上"):
            init.fan_in_out((10,))


def _expected_std(name: str, shape: tuple[int, ...]) -> float:
    """torch.nn.init の式 (gain と fan) で標準偏差を求める。"""
    fan_in, fan_out = _torch_fans(shape)
    if name.startswith("xavier"):
        return math.sqrt(2.0 / (fan_in + fan_out))
    return tinit.calculate_gain("relu") / math.sqrt(fan_in)


def _torch_init(name: str, shape: tuple[int, ...]) -> torch.Tensor:
    w = torch.empty(_torch_shape(shape), dtype=torch.float64)
    fn = {
        "xavier_normal": tinit.xavier_normal_,
        "xavier_uniform": tinit.xavier_uniform_,
        "he_normal": lambda w: tinit.kaiming_normal_(w, nonlinearity="relu"),
        "he_uniform": lambda w: tinit.kaiming_uniform_(w, nonlinearity="relu"),
    }[name]
    torch.manual_seed(0)
    return fn(w)


class TestDistributions:
    @pytest.mark.parametrize("shape", SHAPES)
    @pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
    def test_std_matches_formula_and_torch(self, name: str, shape) -> None:
        w = init.INITIALIZERS[name](np.random.default_rng(0), shape)
        assert w.shape == shape
        expected = _expected_std(name, shape)
        assert w.std() == pytest.approx(expected, rel=STD_RTOL)
        assert abs(w.mean()) < 5 * expected / math.sqrt(w.size)
        w_torch = _torch_init(name, shape)
        assert w.std() == pytest.approx(w_torch.std().item(), rel=STD_RTOL)

    @pytest.mark.parametrize("shape", SHAPES)
    @pytest.mark.parametrize("name", ["xavier_uniform", "he_uniform"])
    def test_uniform_bound(self, name: str, shape) -> None:
        w = init.INITIALIZERS[name](np.random.default_rng(1), shape)
        bound = math.sqrt(3.0) * _expected_std(name, shape)
        w_torch = _torch_init(name, shape)
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.99 * bound
        assert w_torch.abs().max().item() <= bound * (1 + 1e-12)

    def test_gain_scales_xavier(self) -> None:
        shape = (50, 40)
        a = init.xavier_normal(np.random.default_rng(2), shape)
        b = init.xavier_normal(np.random.default_rng(2), shape, gain=2.5)
        np.testing.assert_allclose(b, 2.5 * a, rtol=1e-14)

    def test_he_fan_out(self) -> None:
        shape = (64, 3, 5, 5)
        w = init.he_normal(np.random.default_rng(3), shape, mode="fan_out")
        expected = math.sqrt(2.0 / _torch_fans(shape)[1])
        assert w.std() == pytest.approx(expected, rel=STD_RTOL)

    def test_bad_mode_raises(self) -> None:
        with pytest.raises(ValueError, match="fan_in"):
            init.he_uniform(np.random.default_rng(0), (3, 4), mode="avg")

    @pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
    def test_same_seed_same_weights(self, name: str) -> None:
        f = init.INITIALIZERS[name]
        a = f(np.random.default_rng(5), (6, 7))
        b = f(np.random.default_rng(5), (6, 7))
        c = f(np.random.default_rng(6), (6, 7))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
